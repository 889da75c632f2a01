package ctxio_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts/internal/ctxio"
)

func TestReaderStopsOnceContextIsDone(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	r := ctxio.NewReader(ctx, strings.NewReader("0123456789"))
	buf := make([]byte, 4)
	n, err := r.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "0123", string(buf[:n]))

	cancel()
	n, err = r.Read(buf)
	require.Zero(t, n)
	require.ErrorIs(t, err, context.Canceled)
}

func TestReaderPassesEOF(t *testing.T) {
	data, err := io.ReadAll(ctxio.NewReader(t.Context(), strings.NewReader("all")))
	require.NoError(t, err)
	require.Equal(t, "all", string(data))
}
