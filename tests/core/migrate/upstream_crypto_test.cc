// Known answers for the primitives a migration reads upstream stores with:
// XChaCha20-Poly1305 (IETF) and Argon2id, from public test vectors.
#include "core/migrate/upstream_crypto.h"

#include <sodium.h>

#include <string>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_testing.h"

namespace zlayer::secrets {
namespace {

std::string Hex(absl::string_view bytes) {
  return absl::BytesToHexString(bytes);
}
std::string Unhex(absl::string_view hex) { return absl::HexStringToBytes(hex); }

// draft-irtf-cfrg-xchacha-03 §A.3.1 (libsodium's
// aead_xchacha20poly1305 test uses the same vector).
TEST(UpstreamCryptoTest, XChaCha20Poly1305IetfKnownAnswer) {
  const SecretBytes key = SecretBytes::FromString(Unhex(
      "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"));
  const std::string nonce =
      Unhex("404142434445464748494a4b4c4d4e4f5051525354555657");
  const std::string ad = Unhex("50515253c0c1c2c3c4c5c6c7");
  const std::string sealed = Unhex(
      "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
      "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
      "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
      "21f9664c97637da9768812f615c68b13b52e"
      "c0875924c1c7987947deafd8780acf49");
  absl::StatusOr<SecretBytes> plain =
      OpenXChaCha20Poly1305(key, nonce, sealed, ad);
  ASSERT_OK(plain);
  EXPECT_EQ(plain->InsecureView(),
            "Ladies and Gentlemen of the class of '99: If I could offer you "
            "only one tip for the future, sunscreen would be it.");
  // Upstream seals without associated data: the same bytes do not open so.
  EXPECT_STATUS(OpenXChaCha20Poly1305(key, nonce, sealed, ""), kDataLoss);
  std::string edited = sealed;
  edited[3] ^= 1;
  EXPECT_STATUS(OpenXChaCha20Poly1305(key, nonce, edited, ad), kDataLoss);
}

TEST(UpstreamCryptoTest, UpstreamBlobIsNonceCiphertextTagWithoutAd) {
  const SecretBytes key = SecretBytes::Random(32);
  const SecretBytes value = SecretBytes::FromString("hunter2");
  const std::string blob = SealUpstreamBlob(key, value);
  ASSERT_EQ(blob.size(), value.size() + 40);
  // Opened by hand with libsodium: nonce first, no associated data.
  std::string plain(value.size(), '\0');
  unsigned long long len = 0;
  ASSERT_EQ(
      crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(plain.data()), &len, nullptr,
          reinterpret_cast<const unsigned char*>(blob.data()) + 24,
          blob.size() - 24, nullptr, 0,
          reinterpret_cast<const unsigned char*>(blob.data()), key.data()),
      0);
  EXPECT_EQ(plain, "hunter2");
  absl::StatusOr<SecretBytes> opened = OpenUpstreamBlob(key, blob);
  ASSERT_OK(opened);
  EXPECT_EQ(opened->InsecureView(), "hunter2");
  EXPECT_STATUS(OpenUpstreamBlob(SecretBytes::Random(32), blob), kDataLoss);
  EXPECT_STATUS(OpenUpstreamBlob(key, blob.substr(0, 39)), kDataLoss);
}

// RFC 9106 §5.3: Argon2id, t=3, m=32 KiB, p=4, with secret and associated
// data.
TEST(UpstreamCryptoTest, Argon2idRfc9106KnownAnswer) {
  const std::string password(32, '\x01');
  const std::string salt(16, '\x02');
  const std::string secret(8, '\x03');
  const std::string ad(12, '\x04');
  Argon2idInput input;
  input.password = password;
  input.salt = salt;
  input.secret = secret;
  input.associated_data = ad;
  input.passes = 3;
  input.memory_kib = 32;
  input.lanes = 4;
  input.output_bytes = 32;
  absl::StatusOr<SecretBytes> tag = Argon2id(input);
  ASSERT_OK(tag);
  EXPECT_EQ(Hex(tag->InsecureView()),
            "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659");
}

// Upstream's parameters agree with libsodium's Argon2id where libsodium can
// take the salt (16 bytes).
TEST(UpstreamCryptoTest, UpstreamDerivationMatchesLibsodium) {
  const SecretBytes password = SecretBytes::FromString("correct horse");
  const std::string deployment = "sixteen-byte-dep";
  ASSERT_EQ(deployment.size(), crypto_pwhash_SALTBYTES);
  absl::StatusOr<SecretBytes> ours = DeriveUpstreamKey(password, deployment);
  ASSERT_OK(ours);
  unsigned char theirs[32];
  ASSERT_EQ(
      crypto_pwhash(theirs, sizeof(theirs), "correct horse", 13,
                    reinterpret_cast<const unsigned char*>(deployment.data()),
                    2, size_t{19456} * 1024, crypto_pwhash_ALG_ARGON2ID13),
      0);
  EXPECT_EQ(ours->InsecureView(),
            absl::string_view(reinterpret_cast<char*>(theirs), 32));
}

TEST(UpstreamCryptoTest, ShortDeploymentNameIsRefusedAsUpstreamDoes) {
  EXPECT_STATUS(DeriveUpstreamKey(SecretBytes::FromString("pw"), "zlayer"),
                kInvalidArgument);
}

TEST(UpstreamCryptoTest, KeyResolutionOrder) {
  UpstreamKeyOptions options;
  options.deployment = "production";
  const std::string hex(64, 'a');
  options.env = [&](absl::string_view name) -> absl::optional<std::string> {
    if (name == kEnvSecretsKey) return "  " + hex + "\n";
    if (name == kEnvSecretsPassword) return std::string("pw");
    return absl::nullopt;
  };
  absl::StatusOr<UpstreamKey> key = ResolveUpstreamKey(options);
  ASSERT_OK(key);
  EXPECT_EQ(key->source, "env ZLAYER_SECRETS_KEY");
  EXPECT_EQ(key->key.InsecureView(), std::string(32, '\xaa'));

  options.env = [](absl::string_view name) -> absl::optional<std::string> {
    if (name == kEnvSecretsPassword) return std::string("pw");
    return absl::nullopt;
  };
  key = ResolveUpstreamKey(options);
  ASSERT_OK(key);
  EXPECT_EQ(key->source, "env ZLAYER_SECRETS_PASSWORD");
  absl::StatusOr<SecretBytes> derived =
      DeriveUpstreamKey(SecretBytes::FromString("pw"), "production");
  ASSERT_OK(derived);
  EXPECT_TRUE(key->key.ConstantTimeEquals(*derived));

  options.env = nullptr;
  EXPECT_STATUS(ResolveUpstreamKey(options), kNotFound);
}

}  // namespace
}  // namespace zlayer::secrets
