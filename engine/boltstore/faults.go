package boltstore

// installTestFaults, set only in binaries built with the switchyard_faults
// tag (faults_testhooks.go, for the end-to-end tests), installs the
// failures SWITCHYARD_TEST_FAULTS asks for into every store opened. In
// other builds it is nil and nothing can inject a failure.
var installTestFaults func(*Store)
