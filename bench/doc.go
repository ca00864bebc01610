// Package bench holds gomirror's speed and memory benchmarks. Each one runs
// the gomirror binary as a subprocess and reports its figures as ratios
// against a baseline measured in the same run; see README.md and run.sh.
//
// The benchmarks live in the package's test files; this file only names the
// package.
package bench
