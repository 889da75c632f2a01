package jobartifacts

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Tree entry types and modes (spec §7). Modes follow GitLab's repository tree
// API: regular files are "100644", directories "040000".
const (
	treeTypeFile      = "file"
	treeTypeDirectory = "directory"
	treeModeFile      = "100644"
	treeModeDirectory = "040000"
)

// treeEntry is one row of the tree listing (spec §7). Size is set for files
// only. Path is the full path inside the archive, without a trailing "/" for
// directories.
type treeEntry struct {
	Name string `json:"name"`
	Path string `json:"path"`
	Type string `json:"type"`
	Size *int64 `json:"size,omitempty"`
	Mode string `json:"mode"`
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

	seen := make(map[string]bool)
	var dirs, files []treeEntry
	found := prefix == ""
	add := func(p string, isDir bool, fileSize int64) {
		key := p
		if isDir {
			key += "/"
		}
		if seen[key] {
			return
		}
		seen[key] = true
		e := treeEntry{Name: p[strings.LastIndexByte(p, '/')+1:], Path: p}
		if isDir {
			e.Type, e.Mode = treeTypeDirectory, treeModeDirectory
			dirs = append(dirs, e)
			return
		}
		e.Type, e.Mode, e.Size = treeTypeFile, treeModeFile, &fileSize
		files = append(files, e)
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
			add(prefix+rest[:i], true, 0)
			if !recursive {
				break
			}
		}
		if !recursive && strings.Contains(rest, "/") {
			continue
		}
		add(clean, isDir, int64(f.UncompressedSize64))
	}
	if !found {
		return nil, fmt.Errorf("%w: directory %q", ErrNotFound, dir)
	}

	byPath := func(a, b treeEntry) int { return cmp.Compare(a.Path, b.Path) }
	slices.SortFunc(dirs, byPath)
	slices.SortFunc(files, byPath)
	return append(dirs, files...), nil
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
