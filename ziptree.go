package jobartifacts

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ciartifacts/jobartifacts/internal/ziparchive"
)

// Tree entry types, the "type" member of a tree listing's rows.
const (
	treeTypeFile      = "file"
	treeTypeDirectory = "directory"
)

// treeEntry is one row of the tree listing, as GitLab's JobArtifactEntry
// renders it. Path is the full path inside the archive; a directory's ends
// with "/". Size is set for files only. Mode is the entry's Unix mode in
// octal, six digits ("100644", "040755"); a directory that has no entry of
// its own in the archive has none (null), as in GitLab.
type treeEntry struct {
	Name string     `json:"name"`
	Path string     `json:"path"`
	Type string     `json:"type"`
	Size *int64     `json:"size,omitempty"`
	Mode nullString `json:"mode"`
}

// zipEntryMode is the Unix mode GitLab's metadata records for a zip entry:
// the high 16 bits of its external attributes. Archives written elsewhere
// (MS-DOS attributes only) get the usual 100644 and 040755.
func zipEntryMode(externalAttrs uint32, isDir bool) nullString {
	switch unix := externalAttrs >> 16; {
	case unix != 0:
		return nullString(fmt.Sprintf("%06o", unix))
	case isDir:
		return "040755"
	default:
		return "100644"
	}
}

// listArchiveTree lists directory dir of the zip archive in ra ("" =
// the root; a trailing "/" is optional): its immediate children, or
// everything below it when recursive. Directories come from explicit "dir/"
// entries and from the paths of the entries below them. Rows are ordered
// directories first, then files, each by path in byte order. When names
// repeat, the first in central-directory order wins.
//
// Entries whose names cannot sit in a tree (an empty, "." or ".." segment, as
// in "/abs.txt", "a//b.txt" or "../x") are left out; they can still be
// downloaded by their exact name.
//
// It streams the central directory (walkCentralDirectory) and keeps only the
// rows it returns, so listing one directory of a huge archive costs what that
// directory holds. It returns an error wrapping ErrNotFound when dir does not
// exist, one wrapping ErrInvalidArchive when the archive cannot be read, and
// the blob's (or ctx's) own error when reading fails.
func listArchiveTree(ctx context.Context, ra io.ReaderAt, size int64, dir string, recursive bool) ([]treeEntry, error) {
	prefix := strings.TrimSuffix(dir, "/")
	prefixValid := treePathValid(prefix)
	if prefix != "" {
		prefix += "/"
	}
	listing := treeListing{prefix: prefix, recursive: recursive, index: make(map[string]int), found: prefix == ""}
	// The whole directory is read even for an impossible dir, so that an
	// unreadable archive is reported as such first.
	err := walkCentralDirectory(ctx, ra, size, func(rec *ziparchive.Record) (bool, error) {
		if prefixValid {
			listing.addRecord(rec)
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	if !prefixValid || !listing.found {
		return nil, fmt.Errorf("%w: directory %q", ErrNotFound, dir)
	}

	// Directories first, then files, each by path: GitLab lists
	// entry.directories + entry.files.
	rows := listing.rows
	slices.SortFunc(rows, func(a, b treeEntry) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Path, b.Path)) // "directory" < "file"
	})
	return rows, nil
}

// treeListing gathers the rows of one listing from the central-directory
// records, in order.
type treeListing struct {
	prefix    string // the listed directory with its "/", or "" for the root
	recursive bool
	found     bool           // some entry lies in (or is) the listed directory
	index     map[string]int // row by path; a directory's path ends with "/"
	rows      []treeEntry
}

// addRecord adds the rows record rec contributes: the directories on its
// path below the listed one (as far as listed), and itself if listed. Keys
// are slices of its name, which is looked up without a copy; only a new row
// allocates.
func (l *treeListing) addRecord(rec *ziparchive.Record) {
	name := rec.Name
	isDir := len(name) > 0 && name[len(name)-1] == '/'
	clean := name
	if isDir {
		clean = name[:len(name)-1]
	}
	if len(clean) == 0 || !treePathValid(clean) || len(name) < len(l.prefix) || string(name[:len(l.prefix)]) != l.prefix {
		return
	}
	l.found = true
	if len(clean) <= len(l.prefix) {
		return // the directory's own "dir/" entry
	}
	rest := clean[len(l.prefix):]
	// Every directory between the prefix and the entry, as far as listed.
	for i, c := range rest {
		if c != '/' {
			continue
		}
		l.add(name[:len(l.prefix)+i+1], nil)
		if !l.recursive {
			return // the entry itself lies deeper than listed
		}
	}
	l.add(name, rec)
}

// add adds the row for path key (a directory's ends with "/") unless there
// is one: explicit is the entry's own record, nil for a directory only seen
// in a longer path, which has no mode until its own entry comes.
func (l *treeListing) add(key []byte, explicit *ziparchive.Record) {
	isDir := key[len(key)-1] == '/'
	if i, ok := l.index[string(key)]; ok {
		if explicit != nil && l.rows[i].Mode == "" {
			l.rows[i].Mode = zipEntryMode(explicit.ExternalAttrs, isDir)
		}
		return
	}
	path := string(key)
	trimmed := strings.TrimSuffix(path, "/")
	e := treeEntry{Name: trimmed[strings.LastIndexByte(trimmed, '/')+1:], Path: path, Type: treeTypeFile}
	if explicit != nil {
		e.Mode = zipEntryMode(explicit.ExternalAttrs, isDir)
	}
	if isDir {
		e.Type = treeTypeDirectory
	} else {
		fileSize := int64(explicit.UncompressedSize)
		e.Size = &fileSize
	}
	l.index[path] = len(l.rows)
	l.rows = append(l.rows, e)
}

// treePathValid reports whether p (without a trailing "/") has no empty, "."
// or ".." segment; "" (the root) is valid.
func treePathValid[P ~string | ~[]byte](p P) bool {
	segStart := 0
	for i := 0; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		switch seg := p[segStart:i]; {
		case len(seg) == 0 && len(p) > 0,
			len(seg) == 1 && seg[0] == '.',
			len(seg) == 2 && seg[0] == '.' && seg[1] == '.':
			return false
		}
		segStart = i + 1
	}
	return true
}
