package pgstore

// AcceptTxs counts the transactions that committed accepts.
func AcceptTxs(s *Store) int64 { return s.accepts.txs.Load() }

// PendingAccepts counts the accepts waiting for a transaction.
func PendingAccepts(s *Store) int {
	s.accepts.mu.Lock()
	defer s.accepts.mu.Unlock()
	return len(s.accepts.pending)
}

// FlushingAccepts counts the accept transactions in flight.
func FlushingAccepts(s *Store) int {
	s.accepts.mu.Lock()
	defer s.accepts.mu.Unlock()
	return s.accepts.flushing
}

// BeforeAcceptTx makes f run before each accept transaction.
func BeforeAcceptTx(s *Store, f func()) { s.accepts.beforeTx = f }
