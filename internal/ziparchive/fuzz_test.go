package ziparchive_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/ciartifacts/jobartifacts/internal/ziparchive"
	"github.com/ciartifacts/jobartifacts/internal/ziptest"
)

// FuzzWalk compares the central-directory walk with the reference reader,
// archive/zip.NewReader (what GitLab's Workhorse opens artifacts with), on
// any bytes: neither panics; whatever the reader opens, the walk validates, with the
// same names in the same order, unless a record runs past the directory
// into the end record (ErrTruncatedRecord: the reader reads on, the walk
// refuses); a walk failure is ErrFormat. The walk never accepts what the
// reader refuses. (An end record whose comment length runs past the end of
// the file is refused by both: TestEndRecordCommentOverrun.)
func FuzzWalk(f *testing.F) {
	f.Add(ziptest.MustBuild(ziptest.Stored("a.txt", "alpha"), ziptest.Deflated("dir/b.txt", "beta")))
	f.Add(ziptest.MustBuild())
	f.Add(ziptest.MustBuild(ziptest.Entry{Name: "dir/"}, ziptest.Stored("dir/x", "")))
	f.Add([]byte("PK\x05\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("not a zip"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ra, size := bytes.NewReader(data), int64(len(data))
		var walked []string
		walkErr := ziparchive.Walk(context.Background(), ra, size, nil, func(r *ziparchive.Record) (bool, error) {
			walked = append(walked, string(r.Name))
			return false, nil
		})
		if walkErr != nil && !errors.Is(walkErr, ziparchive.ErrFormat) {
			t.Fatalf("walk error %v does not wrap ErrFormat", walkErr)
		}
		if validateErr := ziparchive.Validate(context.Background(), ra, size); (validateErr == nil) != (walkErr == nil) {
			t.Fatalf("Validate %v, Walk %v", validateErr, walkErr)
		}
		zr, readerErr := zip.NewReader(ra, size)
		if errors.Is(readerErr, zip.ErrInsecurePath) {
			readerErr = nil // names are never paths here
		}
		switch {
		case readerErr == nil && walkErr != nil && !errors.Is(walkErr, ziparchive.ErrTruncatedRecord):
			t.Fatalf("the reader opens it (%d entries), the walk fails: %v", len(zr.File), walkErr)
		case readerErr == nil && walkErr == nil:
			var names []string
			for _, f := range zr.File {
				names = append(names, f.Name)
			}
			if !slices.Equal(names, walked) {
				t.Fatalf("names differ:\nreader %q\nwalk   %q", names, walked)
			}
		case walkErr == nil:
			t.Fatalf("the walk accepts what the reader refuses: %v", readerErr)
		}
	})
}

// TestEndRecordCommentOverrun pins the case issue 10 named: an end record
// whose comment length runs past the end of the file is not an end record
// for the walk, as for the reader.
func TestEndRecordCommentOverrun(t *testing.T) {
	archive := ziptest.MustBuild(ziptest.Stored("a.txt", "alpha"))
	archive[len(archive)-2] = 5 // comment length 5, no comment bytes
	err := ziparchive.Validate(context.Background(), bytes.NewReader(archive), int64(len(archive)))
	if !errors.Is(err, ziparchive.ErrFormat) {
		t.Fatalf("walk: %v", err)
	}
	if _, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive))); err == nil {
		t.Fatal("the reader opens it")
	}
}
