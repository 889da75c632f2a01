package fsstore

// writebackWindow is how much of a blob PutBlob writes before it asks the
// kernel to start writing those pages to disk: the fsync before the link
// then waits for the last window only, not for the whole upload.
const writebackWindow = 8 << 20

// writeback starts the disk writes of a temporary blob file window by
// window while later bytes still arrive. It only schedules I/O: crash
// safety still rests on the fsync before the link.
type writeback struct {
	start   func(off, n int64) // startWriteback of the file, or a test's recorder
	written int64              // bytes written to f so far
	started int64              // bytes whose writeback has been started
}

// wrote records n more bytes written to the file, and starts the writeback
// of every full window not started yet.
func (w *writeback) wrote(n int) {
	if w == nil {
		return
	}
	w.written += int64(n)
	if w.written-w.started >= writebackWindow {
		end := w.written - w.written%writebackWindow
		w.start(w.started, end-w.started)
		w.started = end
	}
}
