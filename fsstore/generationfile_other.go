//go:build !linux

package fsstore

import "os"

// mapGeneration maps nothing here: whether a mapping sees another
// process's pwrite(2) at once is Linux's promise; elsewhere loads pread.
func mapGeneration(*os.File) []byte { return nil }

func loadMapped([]byte) uint64 { panic("fsstore: no mapping") }

func unmapGeneration([]byte) {}
