// Package archtest holds no code: its test checks that the packages keep
// to the import rules of docs/architecture.md ("Packages and who may import
// whom"), with `go list -deps`, test files included.
package archtest
