//go:build !linux

package fsstore

import "os"

// mapCounter maps nothing here (as mapGeneration): every idle file is
// checked with stat(2).
func mapCounter(*os.File) []byte { return nil }

func loadCounter([]byte) (uint64, bool) { panic("fsstore: no mapping") }

func addCounter([]byte) { panic("fsstore: no mapping") }

func unmapCounter([]byte) {}
