package jobartifacts

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Tree entry types (spec §7).
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

// listArchiveTree lists directory dir of the zip archive in ra ("" = the root;
// a trailing "/" is optional): its immediate children, or everything below it
// when recursive. Directories come from explicit "dir/" entries and from the
// paths of the entries below them. Rows are ordered directories first, then
// files, each by path in byte order. When names repeat, the first in
// central-directory order wins.
//
// Entries whose names cannot sit in a tree (an empty, "." or ".." segment, as
// in "/abs.txt", "a//b.txt" or "../x") are left out; they can still be
// downloaded by their exact name.
//
// It returns an error wrapping ErrNotFound when dir does not exist, and one
// wrapping ErrInvalidArchive when the archive cannot be read.
func listArchiveTree(ra io.ReaderAt, size int64, dir string, recursive bool) ([]treeEntry, error) {
	zr, err := openZipReader(context.Background(), ra, size)
	if err != nil {
		return nil, err
	}
	prefix := strings.TrimSuffix(dir, "/")
	if prefix != "" {
		if !treePathValid(prefix) {
			return nil, fmt.Errorf("%w: directory %q", ErrNotFound, dir)
		}
		prefix += "/"
	}

	// Rows by path; a directory's path ends with "/".
	index := make(map[string]int)
	var rows []treeEntry
	found := prefix == ""
	add := func(p string, isDir bool, fileSize int64, mode nullString) {
		key := p
		if isDir {
			key += "/"
		}
		if i, ok := index[key]; ok {
			// A directory seen in a path first takes the mode of its own entry.
			if rows[i].Mode == "" {
				rows[i].Mode = mode
			}
			return
		}
		e := treeEntry{Name: p[strings.LastIndexByte(p, '/')+1:], Path: key, Type: treeTypeFile, Mode: mode}
		if isDir {
			e.Type = treeTypeDirectory
		} else {
			e.Size = &fileSize
		}
		index[key] = len(rows)
		rows = append(rows, e)
	}

	for _, f := range zr.File {
		name := f.Name
		isDir := strings.HasSuffix(name, "/")
		clean := strings.TrimSuffix(name, "/")
		if clean == "" || !treePathValid(clean) || !strings.HasPrefix(name, prefix) {
			continue
		}
		found = true
		if len(clean) <= len(prefix) {
			continue // the directory's own "dir/" entry
		}
		rest := clean[len(prefix):]
		// Every directory between prefix and the entry, as far as listed.
		for i := 0; i < len(rest); i++ {
			if rest[i] != '/' {
				continue
			}
			add(prefix+rest[:i], true, 0, "")
			if !recursive {
				break
			}
		}
		if !recursive && strings.Contains(rest, "/") {
			continue
		}
		add(clean, isDir, int64(f.UncompressedSize64), zipEntryMode(f.ExternalAttrs, isDir))
	}
	if !found {
		return nil, fmt.Errorf("%w: directory %q", ErrNotFound, dir)
	}

	// Directories first, then files, each by path: GitLab lists
	// entry.directories + entry.files.
	slices.SortFunc(rows, func(a, b treeEntry) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Path, b.Path)) // "directory" < "file"
	})
	return rows, nil
}

// treePathValid reports whether p (without a trailing "/") has no empty, "."
// or ".." segment.
func treePathValid(p string) bool {
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}
