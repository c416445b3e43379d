#include "core/resolve/secret_ref.h"

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace zlayer::secrets {
namespace {

using ::testing::HasSubstr;

// Expects `input` to be rejected with InvalidArgument naming `what` at byte
// `offset`, and quoting the input.
void ExpectRefRejected(absl::string_view input, absl::string_view what,
                       size_t offset) {
  SCOPED_TRACE(absl::StrCat("input: ", absl::CHexEscape(input)));
  absl::StatusOr<SecretRef> ref = SecretRef::Parse(input);
  ASSERT_FALSE(ref.ok()) << ref->ToString();
  EXPECT_EQ(ref.status().code(), absl::StatusCode::kInvalidArgument);
  std::string message(ref.status().message());
  EXPECT_THAT(message, HasSubstr(absl::StrCat("invalid secret reference \"",
                                              absl::CHexEscape(input), "\"")));
  EXPECT_THAT(message, HasSubstr(what));
  EXPECT_THAT(message, HasSubstr(absl::StrCat("(offset ", offset, ")")));
}

void ExpectUrlRejected(absl::string_view input, absl::string_view what,
                       size_t offset) {
  SCOPED_TRACE(absl::StrCat("input: ", absl::CHexEscape(input)));
  absl::StatusOr<SecretUrlRef> ref = SecretUrlRef::Parse(input);
  ASSERT_FALSE(ref.ok()) << ref->ToString();
  EXPECT_EQ(ref.status().code(), absl::StatusCode::kInvalidArgument);
  std::string message(ref.status().message());
  EXPECT_THAT(message, HasSubstr(absl::StrCat("invalid secret URL \"",
                                              absl::CHexEscape(input), "\"")));
  EXPECT_THAT(message, HasSubstr(what));
  EXPECT_THAT(message, HasSubstr(absl::StrCat("(offset ", offset, ")")));
}

// Parses `input`, which must be accepted (a default SecretRef otherwise,
// after recording the failure).
SecretRef ParseAccepted(absl::string_view input) {
  absl::StatusOr<SecretRef> ref = SecretRef::Parse(input);
  EXPECT_TRUE(ref.ok()) << absl::CHexEscape(input) << ": " << ref.status();
  if (!ref.ok()) return SecretRef();
  return *ref;
}

SecretRef MakeRef(std::string name, absl::optional<std::string> service,
                  absl::optional<std::string> project,
                  absl::optional<std::string> environment,
                  absl::optional<std::string> field) {
  SecretRef ref;
  ref.name = std::move(name);
  ref.service = std::move(service);
  ref.project = std::move(project);
  ref.environment = std::move(environment);
  ref.field = std::move(field);
  return ref;
}

constexpr absl::nullopt_t kNone = absl::nullopt;

// ---------------------------------------------------------------------------
// Prefix detection.

TEST(IsSecretRefTest, MatchesExactPrefixOnly) {
  EXPECT_TRUE(IsSecretRef("$S:db"));
  EXPECT_TRUE(IsSecretRef("$S:"));
  EXPECT_TRUE(IsSecretRef("$S:a:b"));  // Unparseable but still a reference.
  EXPECT_FALSE(IsSecretRef("$s:db"));
  EXPECT_FALSE(IsSecretRef(" $S:db"));
  EXPECT_FALSE(IsSecretRef("$S"));
  EXPECT_FALSE(IsSecretRef("S:db"));
  EXPECT_FALSE(IsSecretRef(""));
  EXPECT_FALSE(IsSecretRef("$secret://e/k"));
}

TEST(IsSecretUrlTest, MatchesExactPrefixOnly) {
  EXPECT_TRUE(IsSecretUrl("$secret://e/k"));
  EXPECT_TRUE(IsSecretUrl("$secret://"));
  EXPECT_FALSE(IsSecretUrl("$SECRET://e/k"));
  EXPECT_FALSE(IsSecretUrl("$secret:/e/k"));
  EXPECT_FALSE(IsSecretUrl(" $secret://e/k"));
  EXPECT_FALSE(IsSecretUrl("$S:e/k"));
  EXPECT_FALSE(IsSecretUrl(""));
}

// ---------------------------------------------------------------------------
// Rejections (docs/compatibility.md, "`$S:` grammar").

TEST(SecretRefParseTest, ErrorMessageNamesProblemAndOffset) {
  absl::StatusOr<SecretRef> ref = SecretRef::Parse("$S:a:b");
  ASSERT_FALSE(ref.ok());
  EXPECT_EQ(ref.status(),
            absl::InvalidArgumentError(
                "invalid secret reference \"$S:a:b\": ':' is only allowed in "
                "environment references (offset 4)"));
}

TEST(SecretRefParseTest, ErrorMessageEscapesNonPrintableBytes) {
  absl::StatusOr<SecretRef> ref =
      SecretRef::Parse(absl::string_view("$S:\n\0:", 6));
  ASSERT_FALSE(ref.ok());
  EXPECT_THAT(std::string(ref.status().message()),
              HasSubstr("\"$S:\\n\\x00:\""));
  EXPECT_THAT(std::string(ref.status().message()), HasSubstr("(offset 5)"));
}

TEST(SecretRefParseTest, RejectsInputWithoutExactPrefix) {
  ExpectRefRejected("", "missing \"$S:\" prefix", 0);
  ExpectRefRejected("db", "missing \"$S:\" prefix", 0);
  ExpectRefRejected("$s:db", "missing \"$S:\" prefix", 0);
  ExpectRefRejected(" $S:db", "missing \"$S:\" prefix", 0);
  ExpectRefRejected("$S", "missing \"$S:\" prefix", 0);
  ExpectRefRejected("$secret://e/k", "missing \"$S:\" prefix", 0);
}

TEST(SecretRefParseTest, RejectsEmptyBody) {
  ExpectRefRejected("$S:", "nothing follows \"$S:\"", 3);
}

TEST(SecretRefParseTest, RejectsServiceFormWithEmptyService) {
  ExpectRefRejected("$S:@", "service is empty", 4);
  ExpectRefRejected("$S:@/x", "service is empty", 4);
  ExpectRefRejected("$S:@/x/y", "service is empty", 4);
}

TEST(SecretRefParseTest, RejectsServiceFormWithoutSlash) {
  ExpectRefRejected("$S:@svc", "service reference needs '/' and a name", 7);
  ExpectRefRejected("$S:@p:e", "service reference needs '/' and a name", 7);
}

TEST(SecretRefParseTest, RejectsServiceFormWithEmptyName) {
  ExpectRefRejected("$S:@svc/", "name is empty", 8);
  ExpectRefRejected("$S:@svc//f", "name is empty", 8);
  ExpectRefRejected("$S:@svc//", "name is empty", 8);
}

TEST(SecretRefParseTest, RejectsLeadingSlash) {
  ExpectRefRejected("$S:/x", "name is empty", 3);
  ExpectRefRejected("$S://", "name is empty", 3);
  ExpectRefRejected("$S:/", "name is empty", 3);
  ExpectRefRejected("$S:/:e/n", "name is empty", 3);
}

TEST(SecretRefParseTest, RejectsDeploymentFieldThatIsNotOneNonEmptySegment) {
  ExpectRefRejected("$S:name/", "field is empty", 8);
  ExpectRefRejected("$S:name/a/b", "field contains '/'", 9);
  ExpectRefRejected("$S:name//", "field contains '/'", 8);
  ExpectRefRejected("$S:a/b/", "field contains '/'", 6);
}

TEST(SecretRefParseTest, RejectsColonInSlashlessBody) {
  const char kWhat[] = "':' is only allowed in environment references";
  ExpectRefRejected("$S:a:b", kWhat, 4);
  ExpectRefRejected("$S::name", kWhat, 3);
  ExpectRefRejected("$S:::name", kWhat, 3);
  ExpectRefRejected("$S:$S:x", kWhat, 5);
  ExpectRefRejected("$S:name:", kWhat, 7);
}

TEST(SecretRefParseTest, RejectsEmptyEnvironment) {
  ExpectRefRejected("$S::/n", "environment is empty", 4);
  ExpectRefRejected("$S:p:/n", "environment is empty", 5);
  ExpectRefRejected("$S::/n/f", "environment is empty", 4);
}

TEST(SecretRefParseTest, RejectsMoreThanOneColonBeforeFirstSlash) {
  const char kWhat[] = "environment contains ':'";
  ExpectRefRejected("$S:a:b:c/n", kWhat, 6);
  ExpectRefRejected("$S:a::b/n", kWhat, 5);
  ExpectRefRejected("$S::e:x/n", kWhat, 5);
  ExpectRefRejected("$S::e:/n", kWhat, 5);
}

TEST(SecretRefParseTest, RejectsEnvironmentFormWithEmptyName) {
  ExpectRefRejected("$S::e/", "name is empty", 6);
  ExpectRefRejected("$S::e//f", "name is empty", 6);
  ExpectRefRejected("$S:p:e/", "name is empty", 7);
}

TEST(SecretRefParseTest, RejectsEnvironmentFormWithEmptyField) {
  ExpectRefRejected("$S::e/n/", "field is empty", 8);
  ExpectRefRejected("$S:p:e/n/", "field is empty", 9);
}

TEST(SecretRefParseTest, RejectsEnvironmentFieldContainingSlash) {
  ExpectRefRejected("$S::e/n/a/b", "field contains '/'", 9);
  ExpectRefRejected("$S:p:e/n/a/", "field contains '/'", 10);
  ExpectRefRejected("$S::e/n//", "field contains '/'", 8);
}

// ---------------------------------------------------------------------------
// Accepted forms, with exact field values.

TEST(SecretRefParseTest, AcceptsDeploymentName) {
  EXPECT_EQ(ParseAccepted("$S:db"), MakeRef("db", kNone, kNone, kNone, kNone));
}

TEST(SecretRefParseTest, AcceptsDeploymentNameWithField) {
  EXPECT_EQ(ParseAccepted("$S:db/password"),
            MakeRef("db", kNone, kNone, kNone, "password"));
  EXPECT_EQ(ParseAccepted("$S:db/a:b@c"),
            MakeRef("db", kNone, kNone, kNone, "a:b@c"));
}

TEST(SecretRefParseTest, DoesNotValidateNameCharacters) {
  for (absl::string_view name :
       {"123", "-x", "na me", "name.with.dots", "\xE5\x90\x8D\xE5\x89\x8D",
        "a@b", "$S", "%41", "tab\there", " "}) {
    std::string input = absl::StrCat("$S:", name);
    EXPECT_EQ(ParseAccepted(input),
              MakeRef(std::string(name), kNone, kNone, kNone, kNone))
        << absl::CHexEscape(input);
  }
  std::string with_nul("$S:a\0b", 6);
  EXPECT_EQ(ParseAccepted(with_nul),
            MakeRef(std::string("a\0b", 3), kNone, kNone, kNone, kNone));
}

TEST(SecretRefParseTest, AcceptsServiceName) {
  EXPECT_EQ(ParseAccepted("$S:@api/db"),
            MakeRef("db", "api", kNone, kNone, kNone));
}

TEST(SecretRefParseTest, AcceptsServiceNameWithField) {
  EXPECT_EQ(ParseAccepted("$S:@api/db/password"),
            MakeRef("db", "api", kNone, kNone, "password"));
}

TEST(SecretRefParseTest, ServiceFieldKeepsFurtherSlashes) {
  EXPECT_EQ(ParseAccepted("$S:@s/n/a/b"),
            MakeRef("n", "s", kNone, kNone, "a/b"));
  EXPECT_EQ(ParseAccepted("$S:@s/n//"), MakeRef("n", "s", kNone, kNone, "/"));
  EXPECT_EQ(ParseAccepted("$S:@s/n/a/"), MakeRef("n", "s", kNone, kNone, "a/"));
}

TEST(SecretRefParseTest, ServiceFormDropsEmptyTrailingField) {
  absl::StatusOr<SecretRef> ref = SecretRef::Parse("$S:@s/n/");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(*ref, MakeRef("n", "s", kNone, kNone, kNone));
  EXPECT_FALSE(ref->has_field());
  EXPECT_EQ(ref->ToString(), "$S:@s/n");
}

TEST(SecretRefParseTest, LeadingAtAlwaysSelectsServiceForm) {
  EXPECT_EQ(ParseAccepted("$S:@p:e/n"),
            MakeRef("n", "p:e", kNone, kNone, kNone));
  EXPECT_EQ(ParseAccepted("$S:@:e/n/f"), MakeRef("n", ":e", kNone, kNone, "f"));
  EXPECT_EQ(ParseAccepted("$S:@s@x:y/n:m@/f:@/g"),
            MakeRef("n:m@", "s@x:y", kNone, kNone, "f:@/g"));
  EXPECT_EQ(ParseAccepted("$S:@@/@"), MakeRef("@", "@", kNone, kNone, kNone));
}

TEST(SecretRefParseTest, AcceptsGlobalEnvironmentReference) {
  EXPECT_EQ(ParseAccepted("$S::staging/db"),
            MakeRef("db", kNone, kNone, "staging", kNone));
  EXPECT_EQ(ParseAccepted("$S::staging/db/password"),
            MakeRef("db", kNone, kNone, "staging", "password"));
}

TEST(SecretRefParseTest, AcceptsProjectEnvironmentReference) {
  EXPECT_EQ(ParseAccepted("$S:shop:prod/db"),
            MakeRef("db", kNone, "shop", "prod", kNone));
  EXPECT_EQ(ParseAccepted("$S:shop:prod/db/password"),
            MakeRef("db", kNone, "shop", "prod", "password"));
}

TEST(SecretRefParseTest, EnvironmentPartsMayHoldColonAndAtWhereAllowed) {
  EXPECT_EQ(ParseAccepted("$S:p@x:e@y/n:1/f:@"),
            MakeRef("n:1", kNone, "p@x", "e@y", "f:@"));
  EXPECT_EQ(ParseAccepted("$S::e/::/:"), MakeRef("::", kNone, kNone, "e", ":"));
}

// ---------------------------------------------------------------------------
// Predicates.

TEST(SecretRefPredicatesTest, DeploymentReferenceWithOrWithoutField) {
  for (absl::string_view input : {"$S:db", "$S:db/password"}) {
    SecretRef ref = ParseAccepted(input);
    EXPECT_TRUE(ref.is_deployment_level()) << input;
    EXPECT_FALSE(ref.is_service_level()) << input;
    EXPECT_FALSE(ref.is_environment_level()) << input;
    EXPECT_FALSE(ref.is_project_environment_level()) << input;
  }
  EXPECT_FALSE(ParseAccepted("$S:db").has_field());
  EXPECT_TRUE(ParseAccepted("$S:db/password").has_field());
}

TEST(SecretRefPredicatesTest, ServiceReference) {
  SecretRef ref = ParseAccepted("$S:@api/db/password");
  EXPECT_FALSE(ref.is_deployment_level());
  EXPECT_TRUE(ref.is_service_level());
  EXPECT_FALSE(ref.is_environment_level());
  EXPECT_FALSE(ref.is_project_environment_level());
  EXPECT_TRUE(ref.has_field());
  EXPECT_FALSE(ParseAccepted("$S:@api/db").has_field());
}

TEST(SecretRefPredicatesTest, GlobalEnvironmentReference) {
  SecretRef ref = ParseAccepted("$S::staging/db");
  EXPECT_FALSE(ref.is_deployment_level());
  EXPECT_FALSE(ref.is_service_level());
  EXPECT_TRUE(ref.is_environment_level());
  EXPECT_FALSE(ref.is_project_environment_level());
  EXPECT_FALSE(ref.has_field());
}

TEST(SecretRefPredicatesTest, ProjectEnvironmentReference) {
  SecretRef ref = ParseAccepted("$S:shop:prod/db/f");
  EXPECT_FALSE(ref.is_deployment_level());
  EXPECT_FALSE(ref.is_service_level());
  EXPECT_TRUE(ref.is_environment_level());
  EXPECT_TRUE(ref.is_project_environment_level());
  EXPECT_TRUE(ref.has_field());
}

TEST(SecretRefPredicatesTest, ProjectAloneIsStillDeploymentLevel) {
  // Only hand-built refs can have a project without an environment.
  SecretRef ref = MakeRef("db", kNone, "shop", kNone, kNone);
  EXPECT_FALSE(ref.is_deployment_level());
  EXPECT_FALSE(ref.is_environment_level());
  EXPECT_FALSE(ref.is_project_environment_level());
}

// ---------------------------------------------------------------------------
// Rendering (docs/compatibility.md, "`$S:` grammar", rendering).

TEST(SecretRefToStringTest, RendersEveryAcceptedFormAsItsInput) {
  for (absl::string_view input :
       {"$S:db", "$S:db/password", "$S:@api/db", "$S:@api/db/password",
        "$S:@s/n/a/b", "$S:@p:e/n", "$S::staging/db", "$S::staging/db/f",
        "$S:shop:prod/db", "$S:shop:prod/db/f", "$S:p@x:e@y/n:1/f:@"}) {
    EXPECT_EQ(ParseAccepted(input).ToString(), input);
  }
}

TEST(SecretRefToStringTest, ServiceWinsOverEnvironmentAndProject) {
  EXPECT_EQ(MakeRef("n", "s", "p", "e", "f").ToString(), "$S:@s/n/f");
  EXPECT_EQ(MakeRef("n", "s", kNone, "e", kNone).ToString(), "$S:@s/n");
}

TEST(SecretRefToStringTest, RendersEnvironmentWithAndWithoutProject) {
  EXPECT_EQ(MakeRef("n", kNone, kNone, "e", kNone).ToString(), "$S::e/n");
  EXPECT_EQ(MakeRef("n", kNone, "p", "e", "f").ToString(), "$S:p:e/n/f");
}

TEST(SecretRefToStringTest, DropsProjectWithoutEnvironment) {
  EXPECT_EQ(MakeRef("n", kNone, "p", kNone, "f").ToString(), "$S:n/f");
}

TEST(SecretRefToStringTest, EmptyFieldRendersTrailingSlash) {
  SecretRef deployment = MakeRef("n", kNone, kNone, kNone, "");
  EXPECT_EQ(deployment.ToString(), "$S:n/");
  EXPECT_FALSE(SecretRef::Parse(deployment.ToString()).ok());

  SecretRef environment = MakeRef("n", kNone, kNone, "e", "");
  EXPECT_EQ(environment.ToString(), "$S::e/n/");
  EXPECT_FALSE(SecretRef::Parse(environment.ToString()).ok());

  // The service form accepts the trailing '/' but drops the empty field.
  SecretRef service = MakeRef("n", "s", kNone, kNone, "");
  EXPECT_EQ(service.ToString(), "$S:@s/n/");
  EXPECT_EQ(ParseAccepted(service.ToString()),
            MakeRef("n", "s", kNone, kNone, kNone));
}

TEST(SecretRefToStringTest, DoesNotEscapeStructuralCharactersInParts) {
  SecretRef slash_in_name = MakeRef("a/b", kNone, kNone, kNone, kNone);
  EXPECT_EQ(slash_in_name.ToString(), "$S:a/b");
  EXPECT_EQ(ParseAccepted(slash_in_name.ToString()),
            MakeRef("a", kNone, kNone, kNone, "b"));

  SecretRef colon_in_name = MakeRef("a:b", kNone, kNone, kNone, kNone);
  EXPECT_EQ(colon_in_name.ToString(), "$S:a:b");
  EXPECT_FALSE(SecretRef::Parse(colon_in_name.ToString()).ok());

  EXPECT_EQ(MakeRef("", kNone, kNone, kNone, kNone).ToString(), "$S:");
}

// ---------------------------------------------------------------------------
// URL form (docs/compatibility.md, "`$secret://` (URL form)").

TEST(SecretUrlRefParseTest, AcceptsEnvironmentAndKey) {
  absl::StatusOr<SecretUrlRef> ref = SecretUrlRef::Parse("$secret://prod/DB");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->environment, "prod");
  EXPECT_EQ(ref->key, "DB");
  EXPECT_FALSE(ref->field.has_value());
}

TEST(SecretUrlRefParseTest, FieldIsEverythingAfterSecondSlash) {
  struct Case {
    const char* input;
    const char* field;
  };
  for (const Case& c :
       {Case{"$secret://prod/DB/password", "password"},
        Case{"$secret://prod/DB/a/b/c", "a/b/c"},
        Case{"$secret://prod/DB//", "/"}, Case{"$secret://prod/DB/:@", ":@"}}) {
    absl::StatusOr<SecretUrlRef> ref = SecretUrlRef::Parse(c.input);
    ASSERT_TRUE(ref.ok()) << c.input << ": " << ref.status();
    EXPECT_EQ(ref->environment, "prod") << c.input;
    EXPECT_EQ(ref->key, "DB") << c.input;
    EXPECT_EQ(ref->field, absl::optional<std::string>(c.field)) << c.input;
  }
}

TEST(SecretUrlRefParseTest, KeepsPresentButEmptyField) {
  absl::StatusOr<SecretUrlRef> ref = SecretUrlRef::Parse("$secret://prod/DB/");
  ASSERT_TRUE(ref.ok()) << ref.status();
  ASSERT_TRUE(ref->field.has_value());
  EXPECT_EQ(*ref->field, "");
  EXPECT_EQ(ref->ToString(), "$secret://prod/DB/");
}

TEST(SecretUrlRefParseTest, EnvironmentAndKeyAreNotValidated) {
  absl::StatusOr<SecretUrlRef> ref =
      SecretUrlRef::Parse("$secret://p:e@x %41/K:@ 1");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->environment, "p:e@x %41");
  EXPECT_EQ(ref->key, "K:@ 1");
}

TEST(SecretUrlRefParseTest, RejectsWrongPrefix) {
  ExpectUrlRejected("", "missing \"$secret://\" prefix", 0);
  ExpectUrlRejected("$S:db", "missing \"$secret://\" prefix", 0);
  ExpectUrlRejected("$SECRET://e/k", "missing \"$secret://\" prefix", 0);
  ExpectUrlRejected("$secret:/e/k", "missing \"$secret://\" prefix", 0);
}

TEST(SecretUrlRefParseTest, RejectsMissingSlashAfterEnvironment) {
  ExpectUrlRejected("$secret://prod",
                    "environment must be followed by '/' and a key", 14);
  ExpectUrlRejected("$secret://",
                    "environment must be followed by '/' and a key", 10);
}

TEST(SecretUrlRefParseTest, RejectsEmptyEnvironment) {
  ExpectUrlRejected("$secret:///K", "environment is empty", 10);
  ExpectUrlRejected("$secret://", "environment must be followed", 10);
}

TEST(SecretUrlRefParseTest, RejectsEmptyKey) {
  ExpectUrlRejected("$secret://prod/", "key is empty", 15);
  ExpectUrlRejected("$secret://prod//f", "key is empty", 15);
}

TEST(SecretUrlRefToStringTest, RendersHandBuiltRefs) {
  SecretUrlRef ref;
  ref.environment = "prod";
  ref.key = "DB";
  EXPECT_EQ(ref.ToString(), "$secret://prod/DB");
  ref.field = "a/b";
  EXPECT_EQ(ref.ToString(), "$secret://prod/DB/a/b");
  ref.field = "";
  EXPECT_EQ(ref.ToString(), "$secret://prod/DB/");
}

// ---------------------------------------------------------------------------
// Round trip over a large generated set, checked against an independent
// oracle written from the formal grammar in docs/compatibility.md.

// Deterministic strings over an alphabet heavy in the structural characters.
class RefGenerator {
 public:
  explicit RefGenerator(uint32_t seed) : rng_(seed) {}

  std::string Next(absl::string_view usual_prefix) {
    static constexpr absl::string_view kAlphabet = "////::::@@@$$SSab.x -";
    std::string s;
    // Mostly behind the usual prefix; sometimes a random start so that
    // near-miss prefixes are exercised too.
    if (rng_() % 8 != 0) s = std::string(usual_prefix);
    size_t length = rng_() % 10;
    for (size_t i = 0; i < length; ++i) {
      s.push_back(kAlphabet[rng_() % kAlphabet.size()]);
    }
    return s;
  }

 private:
  std::mt19937 rng_;  // Its output sequence is fixed by the standard.
};

// A maximal run of characters not in `excluded`, starting at `*pos`; advances
// `*pos` past it.
absl::string_view Run(absl::string_view s, size_t* pos,
                      absl::string_view excluded) {
  size_t begin = *pos;
  while (*pos < s.size() && excluded.find(s[*pos]) == absl::string_view::npos) {
    ++*pos;
  }
  return s.substr(begin, *pos - begin);
}

// Consumes `c` at `*pos` if it is there.
bool Eat(absl::string_view s, size_t* pos, char c) {
  if (*pos >= s.size() || s[*pos] != c) return false;
  ++*pos;
  return true;
}

// What the formal grammar (docs/compatibility.md, the `body :=` productions)
// says `input` parses to, or nullopt. Written from the character classes of the
// grammar, independently of the parser's step-by-step algorithm.
absl::optional<SecretRef> OracleParse(absl::string_view input) {
  if (input.substr(0, 3) != "$S:") return absl::nullopt;
  absl::string_view body = input.substr(3);
  size_t pos = 0;
  SecretRef ref;
  // "@" SVC "/" NAME [ "/" FIELD_SVC ]
  if (Eat(body, &pos, '@')) {
    absl::string_view svc = Run(body, &pos, "/");
    if (svc.empty() || !Eat(body, &pos, '/')) return absl::nullopt;
    absl::string_view name = Run(body, &pos, "/");
    if (name.empty()) return absl::nullopt;
    ref.service = std::string(svc);
    ref.name = std::string(name);
    if (Eat(body, &pos, '/') && pos < body.size()) {
      ref.field = std::string(body.substr(pos));
    }
    return ref;
  }
  // [ PROJ ] ":" ENV "/" NAME2 [ "/" FIELD ]   or   DNAME [ "/" FIELD ]
  absl::string_view first = Run(body, &pos, "/:");
  if (Eat(body, &pos, ':')) {
    absl::string_view env = Run(body, &pos, "/:");
    if (env.empty() || !Eat(body, &pos, '/')) return absl::nullopt;
    if (!first.empty()) ref.project = std::string(first);
    ref.environment = std::string(env);
  } else {
    if (first.empty()) return absl::nullopt;
    if (pos == body.size()) {
      ref.name = std::string(first);
      return ref;
    }
    ref.name = std::string(first);
    Eat(body, &pos, '/');
    absl::string_view field = Run(body, &pos, "/");
    if (field.empty() || pos != body.size()) return absl::nullopt;
    ref.field = std::string(field);
    return ref;
  }
  absl::string_view name = Run(body, &pos, "/");
  if (name.empty()) return absl::nullopt;
  ref.name = std::string(name);
  if (Eat(body, &pos, '/')) {
    absl::string_view field = Run(body, &pos, "/");
    if (field.empty()) return absl::nullopt;
    ref.field = std::string(field);
  }
  if (pos != body.size()) return absl::nullopt;
  return ref;
}

TEST(SecretRefRoundTripTest, GeneratedStringsMatchGrammarAndRenderBack) {
  constexpr int kCount = 200000;
  RefGenerator gen(20240611);
  int accepted = 0, service = 0, environment = 0, project = 0, field = 0;
  int dropped_field = 0;
  for (int i = 0; i < kCount; ++i) {
    std::string input = gen.Next(kSecretRefPrefix);
    absl::StatusOr<SecretRef> ref = SecretRef::Parse(input);
    absl::optional<SecretRef> expected = OracleParse(input);
    ASSERT_EQ(ref.ok(), expected.has_value())
        << "\"" << absl::CHexEscape(input) << "\": " << ref.status();
    if (!ref.ok()) {
      ASSERT_EQ(ref.status().code(), absl::StatusCode::kInvalidArgument);
      ASSERT_THAT(std::string(ref.status().message()), HasSubstr("(offset "));
      continue;
    }
    ASSERT_EQ(*ref, *expected) << absl::CHexEscape(input);

    std::string rendered = ref->ToString();
    absl::StatusOr<SecretRef> reparsed = SecretRef::Parse(rendered);
    ASSERT_TRUE(reparsed.ok()) << absl::CHexEscape(rendered);
    ASSERT_EQ(*reparsed, *ref) << absl::CHexEscape(input);
    if (ref->is_service_level() && !ref->has_field() &&
        input == rendered + "/") {
      ++dropped_field;  // The documented `$S:@svc/name/` exception.
    } else {
      ASSERT_EQ(rendered, input);
    }

    ++accepted;
    service += ref->is_service_level();
    environment += ref->is_environment_level();
    project += ref->is_project_environment_level();
    field += ref->has_field();
  }
  // The generator must actually reach every form, and rejections too.
  EXPECT_GT(accepted, kCount / 20);
  EXPECT_LT(accepted, kCount / 2);
  EXPECT_GT(service, 1000);
  EXPECT_GT(environment, 1000);
  EXPECT_GT(project, 500);
  EXPECT_GT(field, 1000);
  EXPECT_GT(dropped_field, 50);
}

TEST(SecretUrlRefRoundTripTest, GeneratedStringsRenderBackExactly) {
  constexpr int kCount = 200000;
  RefGenerator gen(7);
  int accepted = 0, with_field = 0;
  for (int i = 0; i < kCount; ++i) {
    std::string input = gen.Next(kSecretUrlPrefix);
    absl::StatusOr<SecretUrlRef> ref = SecretUrlRef::Parse(input);
    if (!ref.ok()) {
      ASSERT_EQ(ref.status().code(), absl::StatusCode::kInvalidArgument);
      continue;
    }
    ++accepted;
    with_field += ref->field.has_value();
    ASSERT_FALSE(ref->environment.empty());
    ASSERT_FALSE(ref->key.empty());
    ASSERT_EQ(ref->environment.find('/'), std::string::npos);
    ASSERT_EQ(ref->key.find('/'), std::string::npos);
    ASSERT_EQ(ref->ToString(), input);
    absl::StatusOr<SecretUrlRef> reparsed =
        SecretUrlRef::Parse(ref->ToString());
    ASSERT_TRUE(reparsed.ok());
    ASSERT_EQ(*reparsed, *ref);
  }
  EXPECT_GT(accepted, 1000);
  EXPECT_GT(with_field, 500);
}

}  // namespace
}  // namespace zlayer::secrets
