//go:build linux && (amd64 || arm64 || riscv64 || loong64)

package fsstore

import (
	"fmt"
	"syscall"
	"unsafe"
)

// Linux's native asynchronous I/O (io_setup(2), io_submit(2),
// io_getevents(2)), by raw system calls: the standard library has no
// wrapper, and a direct write submitted this way lets go of the file's
// inode lock once submitted, where a synchronous one holds it until the
// disk is done (see asyncWriter). The layouts below are those of
// <linux/aio_abi.h> on 64-bit little-endian machines, the only ones this
// file is built for.

// aioIOCB is struct iocb. The fields this package leaves zero are blank.
type aioIOCB struct {
	data   uint64 // returned in the event: the write's sequence number
	_      uint32 // aio_key
	_      uint32 // aio_rw_flags
	opcode uint16
	_      int16 // aio_reqprio
	fd     uint32
	buf    uint64
	nbytes uint64
	offset int64
	_      uint64 // aio_reserved2
	_      uint32 // aio_flags
	_      uint32 // aio_resfd
}

// aioEvent is struct io_event.
type aioEvent struct {
	data uint64
	_    uint64 // obj: the iocb's address
	res  int64
	_    int64 // res2
}

// iocbCmdPwrite is IOCB_CMD_PWRITE.
const iocbCmdPwrite = 1

// aioContext is one io_setup context.
type aioContext uintptr

// newAIOContext makes a context for up to n writes in flight. Kernels
// built without AIO, sandboxes that filter it and a system at fs.aio-max-nr
// refuse it; the caller then writes synchronously.
func newAIOContext(n int) (aioContext, error) {
	var ctx aioContext
	if _, _, errno := syscall.Syscall(syscall.SYS_IO_SETUP, uintptr(n), uintptr(unsafe.Pointer(&ctx)), 0); errno != 0 {
		return 0, fmt.Errorf("io_setup: %w", errno)
	}
	return ctx, nil
}

// submitWrite submits the write of p to fd at off, tagged with seq. p must
// stay untouched and reachable until its event is reaped; the caller keeps
// it.
func (ctx aioContext) submitWrite(fd uintptr, p []byte, off int64, seq uint64) error {
	cb := aioIOCB{
		data:   seq,
		opcode: iocbCmdPwrite,
		fd:     uint32(fd),
		buf:    uint64(uintptr(unsafe.Pointer(unsafe.SliceData(p)))),
		nbytes: uint64(len(p)),
		offset: off,
	}
	cbs := [1]*aioIOCB{&cb}
	for {
		n, _, errno := syscall.Syscall(syscall.SYS_IO_SUBMIT, uintptr(ctx), 1, uintptr(unsafe.Pointer(&cbs[0])))
		switch {
		case errno == syscall.EINTR:
			continue
		case errno != 0:
			return fmt.Errorf("io_submit: %w", errno)
		case n != 1:
			return fmt.Errorf("io_submit: %d of 1 submitted", n)
		}
		return nil
	}
}

// reap waits for one write's event and returns its sequence number and
// result: the bytes written, or a negative errno.
func (ctx aioContext) reap() (seq uint64, res int64, err error) {
	var ev [1]aioEvent
	for {
		n, _, errno := syscall.Syscall6(syscall.SYS_IO_GETEVENTS, uintptr(ctx), 1, 1, uintptr(unsafe.Pointer(&ev[0])), 0, 0)
		switch {
		case errno == syscall.EINTR:
			continue
		case errno != 0:
			return 0, 0, fmt.Errorf("io_getevents: %w", errno)
		case n != 1:
			continue
		}
		return ev[0].data, ev[0].res, nil
	}
}

// destroy ends the context; the caller has reaped every write.
func (ctx aioContext) destroy() {
	_, _, _ = syscall.Syscall(syscall.SYS_IO_DESTROY, uintptr(ctx), 0, 0)
}

// aioErrno turns a negative event result into its errno.
func aioErrno(res int64) error { return syscall.Errno(-res) }

// The kernel's sizes of the two structs.
var (
	_ [64 - unsafe.Sizeof(aioIOCB{})]struct{}
	_ [unsafe.Sizeof(aioIOCB{}) - 64]struct{}
	_ [32 - unsafe.Sizeof(aioEvent{})]struct{}
	_ [unsafe.Sizeof(aioEvent{}) - 32]struct{}
)
