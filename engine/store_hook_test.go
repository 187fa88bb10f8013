package engine

import "testing"

// testStoreOpener opens the store the engine's own tests run over. The
// engine's files, its tests included, cannot import a store package (a
// store imports the engine), so the store is installed by
// teststore_test.go, in the external test package, which can.
var testStoreOpener func(dir string) (Store, error)

// SetTestStore installs the store the engine's tests run over.
func SetTestStore(open func(dir string) (Store, error)) { testStoreOpener = open }

// openTestStore opens the test store in dir.
func openTestStore(tb testing.TB, dir string) (Store, error) {
	tb.Helper()
	if testStoreOpener == nil {
		tb.Fatal("no test store installed (teststore_test.go)")
	}
	return testStoreOpener(dir)
}
