package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"time"
)

// upconc measures memory per in-flight upload: it resets the servers' peak
// RSS, starts -n runner uploads at once (chunked multipart, as GitLab
// Runner sends them), each on its own connection, and has each send -first
// bytes of its file, pause, send on to -total bytes and end. It prints
// (VmHWM − RSS before)/n in KiB, summed over -pids. The file is no zip:
// the server refuses it once it has it all (a 4xx), after the part that
// is measured.
//
//	benchserve upconc -pids P[,P…] [-n 100] [-first 4194304] [-pause 1s] [-total 8388608] URL [header: value]...
//	→ KiB-per-upload uploads
func upconc(args []string) error {
	fs := flag.NewFlagSet("upconc", flag.ContinueOnError)
	pidList := fs.String("pids", "", "server processes, comma-separated")
	n := fs.Int("n", 100, "uploads at once")
	first := fs.Int64("first", 4<<20, "bytes each sends before its pause")
	pause := fs.Duration("pause", time.Second, "pause after -first bytes")
	total := fs.Int64("total", 8<<20, "bytes each sends in all")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 1 || *pidList == "" || *n < 1 || *first > *total {
		return errors.New("usage: upconc -pids P[,P…] [-n N] [-first B] [-pause D] [-total B] URL [header: value]")
	}
	pids, err := parsePids(*pidList)
	if err != nil {
		return err
	}
	// One request to copy the URL and headers from.
	req, err := newGet(fs.Arg(0), fs.Args()[1:])
	if err != nil {
		return err
	}
	piece := make([]byte, 64<<10)
	for i := range piece {
		piece[i] = byte(rand.Uint32())
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	kib, err := peakPerRequest(pids, *n, func() error { return pausedUpload(client, req, piece, *first, *pause, *total) })
	if err != nil {
		return err
	}
	fmt.Printf("%d %d\n", kib, *n)
	return nil
}

// pausedUpload posts a multipart body with one file field "file" of total
// bytes (piece over and over), pausing after first; any answer but a 5xx
// will do.
func pausedUpload(client *http.Client, like *http.Request, piece []byte, first int64, pause time.Duration, total int64) error {
	pr, pw := io.Pipe()
	mpw := multipart.NewWriter(pw)
	go func() {
		part, err := mpw.CreateFormFile("file", "artifacts.zip")
		if err == nil {
			err = sendPieces(part, piece, first)
		}
		if err == nil {
			time.Sleep(pause)
			err = sendPieces(part, piece, total-first)
		}
		if err == nil {
			err = mpw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequest(http.MethodPost, like.URL.String(), pr)
	if err != nil {
		return err
	}
	req.Header = like.Header.Clone()
	req.Header.Set("Content-Type", mpw.FormDataContentType())
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode >= 500 {
		return fmt.Errorf("%s: %s", req.URL, resp.Status)
	}
	return nil
}

// sendPieces writes n bytes of piece, over and over, to w.
func sendPieces(w io.Writer, piece []byte, n int64) error {
	for n > 0 {
		m := min(n, int64(len(piece)))
		if _, err := w.Write(piece[:m]); err != nil {
			return err
		}
		n -= m
	}
	return nil
}
