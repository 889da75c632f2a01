//go:build !(linux && (amd64 || arm64 || riscv64 || loong64))

package fsstore

import (
	"errors"
	"fmt"
)

// aioContext stands for Linux's AIO context where there is none: making
// one fails, and the direct writer writes synchronously.
type aioContext uintptr

func newAIOContext(n int) (aioContext, error) { return 0, errors.ErrUnsupported }

func (aioContext) submitWrite(fd uintptr, p []byte, off int64, seq uint64) error {
	return errors.ErrUnsupported
}

func (aioContext) reap() (uint64, int64, error) { return 0, 0, errors.ErrUnsupported }

func (aioContext) destroy() {}

func aioErrno(res int64) error { return fmt.Errorf("errno %d", -res) }
