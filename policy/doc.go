// Package policy is gomirror's dependency policy: which modules and
// versions may be served, read from one YAML file, and the decision for a
// module version, with the rule and the file line that took it.
//
// # The file
//
//	# policy.yaml
//	default: allow            # allow (the default) or deny: when no rule matches
//	mode: enforce             # enforce (the default) or warn: the default of every rule's mode
//	groups:                   # group name → token names (auth's token names)
//	  release: [prod-ci, release-bot]
//	sets:                     # per-client rule sets; a token's first matching set applies
//	  - name: strict
//	    tokens: [audit-bot]   # token names
//	    groups: [release]     # and/or group names
//	    default: deny         # optional; else the top-level default
//	    rules:
//	      - module: corp.example
//	      - module: "*"
//	        versions: ">=1.0.0"
//	        deny-vulnerable: true
//	        deny-retracted: true
//	        deny-pseudo-versions: true
//	        min-age: 14
//	        licenses: [MIT, Apache-2.0, BSD-3-Clause]
//	rules:                    # everyone else's rules
//	  - name: no-old-yaml     # optional; else "rule N" (N counts from 1 in its list)
//	    module: gopkg.in/yaml.v2
//	    versions: "<2.4.0"
//	    action: deny
//	  - module: example.com/legacy, example.com/old/*   # a GOPRIVATE-style list, or a YAML list
//	    mode: warn
//	    deny-vulnerable:
//	      except: [GO-2022-0001]
//
// Every key not listed here is an error, and so is a value of the wrong
// kind; every error names the file and line. A file is validated whole
// when it is read ([Parse], [Load]); a bad file is never half used.
//
// # Rules
//
// A rule matches a module version when its module pattern matches the
// module path and, if it has one, its versions constraint matches the
// version. Rules are tried in order and the first that matches decides;
// when none matches, the list's default decides (allow, unless `default:
// deny`).
//
//   - module (required): patterns in the go command's GOPRIVATE syntax, as
//     package modpattern matches them (case ignored, so that a case variant
//     of a denied path is denied too).
//   - versions: a constraint in github.com/Masterminds/semver/v3 syntax
//     ("^1.9.0", "~1.2", ">=1.2.0 <2", "1.2.x || >=3", an exact "v1.4.2"),
//     with or without go's "v" prefix. Unlike the library's default, a
//     range includes the pre-releases and pseudo-versions that it orders
//     between its bounds ("<2.4.0" covers v2.3.1-0.20200101000000-abcdef012345),
//     because a deny rule must not be escaped by asking for a commit. A
//     pseudo-version of an untagged major, vX.0.0-TIMESTAMP-COMMIT, which
//     semver orders below X.0.0, is matched as itself and as X.0.0: a
//     range that starts at X.0.0 ("*", "x", ">=0.0.0", "0.x", "^0", "2.x")
//     covers it, and so does a range that ends below X.0.0 ("<2.0.0"
//     covers v2.0.0-20240101000000-abcdef012345, as it covers
//     v2.0.0-rc.1): both ">=2.0.0" and "<2.0.0" match it, and the first
//     such rule decides. A tilde or caret range ("~1.2", "^1.2.0") ends
//     at its next minor or major release without its pre-releases: "~1.2"
//     does not cover v1.3.0-rc.1, "<1.3.0" does.
//     Build metadata ("+incompatible") does not take part in comparisons.
//   - action: allow (the default) or deny. A deny rule refuses what it
//     matches; an allow rule serves it unless one of its checks fails:
//   - deny-pseudo-versions: true refuses pseudo-versions
//     (golang.org/x/mod/module.IsPseudoVersion).
//   - min-age: N refuses versions published less than N days ago, by the
//     time in the version's .info (a cooling-off period against freshly
//     hijacked releases). Such a refusal ends by itself when the age is
//     reached. The .info time of a release is its commit's time, which
//     whoever controls the repository can backdate, and which the
//     checksum database does not cover: an upstream (a proxy) could
//     backdate it too. A pseudo-version's time is the one in the version
//     itself (module.PseudoVersionTime: covered by the checksum database,
//     as the version is), not its .info's.
//   - deny-retracted: true refuses versions that the module's latest
//     go.mod retracts.
//   - deny-vulnerable: true (or a mapping with `except: [IDs]`) refuses
//     versions affected by an advisory of the vulnerability database, save
//     those listed (by ID or alias). Without a vulnerability database
//     ([ErrNoVulnDB]) such a rule cannot be judged, and refuses, with the
//     reason "vulnerability database not available": a policy that
//     promises that no known-vulnerable version is served does not serve
//     one because it cannot look.
//   - licenses: an allow-list of SPDX identifiers. Every license found in
//     the module zip's license files must be in it, and a zip in which
//     none is found is refused. Licenses are judged where the code is: for
//     a zip ([KindZip]) and by `gomirror policy check` ([KindCheck]);
//     `.info` and `.mod` ([KindInfo], [KindMod]) do not wait for a zip to
//     be scanned.
//   - mode: enforce (the default, or the file's top-level mode) or warn. A
//     warned refusal is served and recorded (audit log, metrics). The
//     top-level mode applies to the default's refusal too (`default: deny`
//     with `mode: warn` warns about every unmatched module): `mode: warn`
//     at the top is the dry run of a new policy.
//   - name: the rule's name in decisions; else "rule N".
//
// The checks of an allow rule run cheapest first (pseudo-version, min-age,
// retracted, vulnerable, licenses), each asking its [Facts] only when it
// runs, and the first that fails decides.
//
// # Decisions
//
// A Decision names the deciding rule (its name, else "rule N"; the set's
// name for a set's rule; "default" when none matched) with the file's base
// name and the rule's line, and the reason. Its String is the one line a
// refused client reads (the body of the 403, which the go command prints
// as "server response:"):
//
//	gomirror policy: gopkg.in/yaml.v2@v2.3.0 refused by rule "no-old-yaml" (policy.yaml:25): denied for versions <2.4.0
//
// Decisions are pure functions of the policy, the subject's set, the
// module version, the kind and the facts; Live caches them.
//
// # Clients
//
// A token's rules are those of the first set whose `tokens` name it or
// whose `groups` hold it; everyone else (and requests without a token)
// gets the top-level rules. A set's rules replace the top-level rules;
// they are not added to them.
package policy
