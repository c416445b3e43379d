#!/usr/bin/perl
# Removes from one of etcd's .proto files what C++ code generation does not
# need and Debian does not ship: the gogoproto and google.api imports, the
# `option (gogoproto.*) = ...;` lines, `[(gogoproto.*) = ...]` field options
# and the `option (google.api.http) = { ... };` blocks (whose braces nest:
# additional_bindings { ... }). Messages, fields, numbers and services are
# left exactly as they are. Reads the whole file on stdin, writes stdout.
use strict;
use warnings;

local $/;
my $text = <STDIN>;
$text =~ s{^\s*import\s+"gogoproto/gogo\.proto";\s*$}{}mg;
$text =~ s{^\s*import\s+"google/api/annotations\.proto";\s*$}{}mg;
$text =~ s{^\s*option\s+\(gogoproto\.[^;]*;\s*$}{}mg;
$text =~ s{\s*\[\s*\(gogoproto\.[^\]]*\]}{}g;
$text =~ s{option\s*\(google\.api\.http\)\s*=\s*(\{(?:[^{}]++|(?1))*\})\s*;}{}g;
die "gogoproto left in input\n" if $text =~ /gogoproto/;
die "google.api left in input\n" if $text =~ /google\.api/;
print $text;
