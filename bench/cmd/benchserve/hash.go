package main

import (
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"time"
)

// hash times SHA-256 over MiB mebibytes held in memory, on one core: the
// work every upload must add to what nginx does for a PUT (GitLab keeps
// each artifact's SHA-256), without reads or writes around it. It prints
// the seconds it took.
//
//	benchserve hash -mb MiB
func hash(args []string) error {
	fs := flag.NewFlagSet("hash", flag.ContinueOnError)
	mb := fs.Int("mb", 1024, "mebibytes to hash")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *mb <= 0 || fs.NArg() != 0 {
		return errors.New("usage: hash -mb MiB (MiB > 0)")
	}
	// One MiB block hashed over and over: in cache as an upload's blocks
	// are when they are hashed (uploadReader hashes each as it is read).
	block := make([]byte, 1<<20)
	for i := range block {
		block[i] = byte(i * 7)
	}
	h := sha256.New()
	start := time.Now()
	for range *mb {
		h.Write(block)
	}
	elapsed := time.Since(start)
	h.Sum(nil)
	fmt.Printf("%.6f\n", elapsed.Seconds())
	return nil
}
