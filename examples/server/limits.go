package main

import (
	"errors"
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"
)

// connLimits protect the server from clients that are slow or many: every
// one has a default and a flag (see addLimitFlags).
type connLimits struct {
	// readHeaderTimeout bounds the time to read a request's headers.
	readHeaderTimeout time.Duration
	// idleTimeout closes a keep-alive connection that waits this long for
	// its next request.
	idleTimeout time.Duration
	// maxHeaderBytes bounds a request's headers (431 above).
	maxHeaderBytes int
	// maxConnections caps the connections served at once; more wait in the
	// kernel's accept queue, holding no descriptor of ours.
	maxConnections int
	// stallTimeout and stallBytes: a request body or a response that moves
	// fewer than stallBytes in stallTimeout spent waiting on the client is
	// cut. The clock runs only while the server waits on the client, and
	// restarts whenever stallBytes have moved, so a long transfer that
	// progresses is never cut, however long it takes.
	stallTimeout time.Duration
	stallBytes   int64
}

func defaultConnLimits() connLimits {
	return connLimits{
		readHeaderTimeout: 10 * time.Second,
		idleTimeout:       2 * time.Minute,
		maxHeaderBytes:    64 << 10,
		maxConnections:    256,
		stallTimeout:      time.Minute,
		stallBytes:        16 << 10,
	}
}

// addLimitFlags declares the flags of the limits, defaulting to lim.
func addLimitFlags(fs *flag.FlagSet, lim *connLimits) {
	d := defaultConnLimits()
	fs.DurationVar(&lim.readHeaderTimeout, "read-header-timeout", d.readHeaderTimeout, "longest time to read a request's headers")
	fs.DurationVar(&lim.idleTimeout, "idle-timeout", d.idleTimeout, "how long a keep-alive connection may wait for its next request")
	fs.IntVar(&lim.maxHeaderBytes, "max-header-bytes", d.maxHeaderBytes, "largest request headers, in bytes (431 above)")
	fs.IntVar(&lim.maxConnections, "max-connections", d.maxConnections, "connections served at once; more wait to be accepted (keep it under the descriptor limit, ulimit -n)")
	fs.DurationVar(&lim.stallTimeout, "stall-timeout", d.stallTimeout, "a request body or response that moves fewer than -stall-bytes while the server waits this long on the client is cut (0: never)")
	fs.Int64Var(&lim.stallBytes, "stall-bytes", d.stallBytes, "see -stall-timeout")
}

// check refuses limits that cannot work.
func (lim connLimits) check() error {
	switch {
	case lim.readHeaderTimeout <= 0:
		return errors.New("-read-header-timeout must be positive")
	case lim.idleTimeout <= 0:
		return errors.New("-idle-timeout must be positive")
	case lim.maxHeaderBytes <= 0:
		return errors.New("-max-header-bytes must be positive")
	case lim.maxConnections <= 0:
		return errors.New("-max-connections must be positive")
	case lim.stallTimeout < 0 || lim.stallBytes <= 0:
		return errors.New("-stall-timeout must not be negative and -stall-bytes must be positive")
	}
	return nil
}

// newHTTPServer is the server for handler, with lim's timeouts and limits.
func newHTTPServer(handler http.Handler, lim connLimits, errorLog *log.Logger) *http.Server {
	return &http.Server{
		Handler:           stallDeadlines(handler, lim.stallTimeout, lim.stallBytes),
		ReadHeaderTimeout: lim.readHeaderTimeout,
		IdleTimeout:       lim.idleTimeout,
		MaxHeaderBytes:    lim.maxHeaderBytes,
		ErrorLog:          errorLog,
		ConnContext:       withStallConn,
	}
}

// limitListener accepts at most n connections at once: Accept waits for
// one of them to close before it takes the next from the kernel's queue.
func limitListener(ln net.Listener, n int) net.Listener {
	return &limitedListener{Listener: ln, slots: make(chan struct{}, n), closed: make(chan struct{})}
}

type limitedListener struct {
	net.Listener
	slots     chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
}

func (l *limitedListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.closed:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.slots }}, nil
}

func (l *limitedListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// limitedConn gives its slot back once, on the first Close.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// CloseWrite shuts the connection's sending side only. net/http does so
// after an answer it sends before reading the request's body (a 413, an
// early 401), then waits a moment before it closes: the client reads the
// answer and an end, not a reset. net/http finds it only if the
// connection has one.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom hands copies to the connection's own ReadFrom, where net uses
// sendfile(2) for a file: net/http's response reaches it only if the
// connection has one.
func (c *limitedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}
