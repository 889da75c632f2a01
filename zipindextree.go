package jobartifacts

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/ciartifacts/jobartifacts/internal/ziparchive"
)

// This file cuts tree pages (route 8) out of an archive's index, in time
// and memory proportional to the page, and, for archives too big to index,
// out of streaming walks that keep a bounded number of rows.

// treePage returns one page of the listing of dir and sets the pagination
// headers: from the archive's index, counted, when it fits the index
// budget; else from streaming walks that keep a bounded number of rows,
// uncounted, as GitLab pages large collections.
func (h *Handler) treePage(w http.ResponseWriter, r *http.Request, a Artifact, b Blob, dir string, recursive bool, page pagination) ([]treeEntry, error) {
	ctx := r.Context()
	size := b.Info().Size
	key := archiveCacheKey(a.Blob, b.Info())
	idx, err := h.archives.index(ctx, key, b, size)
	if err != nil {
		return nil, err
	}
	if idx != nil {
		if t := idx.treeFor(h.archives.budget, func(n int64) { h.archives.grow(key, idx, n) }); t != nil {
			view, err := t.list(idx, dir, recursive)
			if err != nil {
				return nil, err
			}
			start, end := page.setHeaders(w, r, view.total())
			return view.rows(start, end), nil
		}
	}
	offset, ok := page.offset(treeStreamMaxOffset)
	if !ok {
		return nil, errOffsetTooLarge
	}
	rows, err := streamTreeRows(ctx, b, size, dir, recursive, offset, page.perPage+1)
	if err != nil {
		return nil, err
	}
	hasNext := len(rows) > page.perPage
	rows = rows[:min(len(rows), page.perPage)]
	page.setHeadersWithoutCount(w, r, len(rows), hasNext)
	if rows == nil {
		rows = []treeEntry{}
	}
	return rows, nil
}

// treeDir is one directory of an indexed archive: explicit (a "dir/" entry)
// or implied by the entries below it.
type treeDir struct {
	entry     uint32 // an entry whose name starts with the directory's path
	pathLen   uint32 // the path's length with its "/"; 0 for the root
	modeEntry int32  // the directory's own entry (the first), or -1
	// Its immediate children: dirsByParent[dirsFrom:dirsTo] and
	// filesByParent[filesFrom:filesTo].
	dirsFrom, dirsTo, filesFrom, filesTo uint32
}

// archiveTree is the directory structure of an indexed archive, with the
// same rows as listArchiveTree: entries whose names cannot sit in a tree
// are left out, and of several entries with one name the first counts.
type archiveTree struct {
	dirs          []treeDir // by path; dirs[0] is the root
	files         []uint32  // file entries by path
	dirsByParent  []uint32  // dir indices by parent, then path
	filesByParent []uint32  // file entries by parent, then path
}

func (t *archiveTree) cost() int64 {
	return int64(cap(t.dirs))*28 + int64(cap(t.files)+cap(t.filesByParent)+cap(t.dirsByParent))*4
}

func (x *archiveIndex) dirPath(d treeDir) []byte {
	if d.pathLen == 0 {
		return nil // the root
	}
	return x.Name(int(d.entry))[:d.pathLen]
}

// treeFor returns the archive's tree, building it on first use, or nil when
// index and tree together would exceed limit bytes. grow is told the tree's
// cost when it is built.
func (x *archiveIndex) treeFor(limit int64, grow func(int64)) *archiveTree {
	x.treeOnce.Do(func() {
		t := buildArchiveTree(x)
		if x.Cost()+t.cost() > limit {
			return
		}
		x.tree = t
		grow(t.cost())
	})
	return x.tree
}

func buildArchiveTree(x *archiveIndex) *archiveTree {
	valid := make([]uint32, 0, x.Len())
	for i := range x.Len() {
		name := x.Name(i)
		clean := bytes.TrimSuffix(name, []byte("/"))
		if len(clean) > 0 && treePathValid(clean) {
			valid = append(valid, uint32(i))
		}
	}
	// By name, then central-directory order: the first of equal names leads.
	slices.SortFunc(valid, func(a, b uint32) int {
		return cmp.Or(bytes.Compare(x.Name(int(a)), x.Name(int(b))), cmp.Compare(a, b))
	})

	t := &archiveTree{dirs: []treeDir{{modeEntry: -1}}}
	var dirParent, fileParent []uint32
	stack := []uint32{0} // the directories along the current name, by depth
	var prev []byte
	for _, i := range valid {
		name := x.Name(int(i))
		if prev != nil && bytes.Equal(name, prev) {
			continue
		}
		depth := 0
		for j, c := range name {
			if c != '/' {
				continue
			}
			depth++
			path := name[:j+1]
			// Sorted names sharing a prefix are adjacent: a directory not on
			// the previous name's path is new, and sorts after every
			// directory before it.
			if prev == nil || !bytes.HasPrefix(prev, path) {
				t.dirs = append(t.dirs, treeDir{entry: i, pathLen: uint32(j + 1), modeEntry: -1})
				dirParent = append(dirParent, stack[depth-1])
				stack = append(stack[:depth], uint32(len(t.dirs)-1))
				if j == len(name)-1 {
					t.dirs[len(t.dirs)-1].modeEntry = int32(i)
				}
			}
		}
		if name[len(name)-1] != '/' {
			t.files = append(t.files, i)
			fileParent = append(fileParent, stack[depth])
		}
		prev = name
	}
	t.dirs = slices.Clip(t.dirs)

	// Children by parent: a stable counting sort keeps path order within
	// each parent.
	t.dirsByParent = make([]uint32, len(dirParent))
	t.filesByParent = make([]uint32, len(t.files))
	for _, p := range dirParent {
		t.dirs[p].dirsTo++
	}
	for _, p := range fileParent {
		t.dirs[p].filesTo++
	}
	var dirAt, fileAt uint32
	for k := range t.dirs {
		d := &t.dirs[k]
		d.dirsFrom, d.dirsTo, dirAt = dirAt, dirAt, dirAt+d.dirsTo
		d.filesFrom, d.filesTo, fileAt = fileAt, fileAt, fileAt+d.filesTo
	}
	for k, p := range dirParent {
		d := &t.dirs[p]
		t.dirsByParent[d.dirsTo] = uint32(k + 1) // dirParent[k] is dirs[k+1]'s
		d.dirsTo++
	}
	for k, p := range fileParent {
		d := &t.dirs[p]
		t.filesByParent[d.filesTo] = t.files[k]
		d.filesTo++
	}
	return t
}

// treeView is one listing of an indexed archive: its directories, then its
// files, each by path.
type treeView struct {
	x *archiveIndex
	t *archiveTree
	// The directories are dirList, or when it is nil dirs[dirFrom:dirFrom+nDirs].
	dirList []uint32
	dirFrom int
	nDirs   int
	files   []uint32
}

// list returns the listing of dir as listArchiveTree would give it, or an
// error wrapping ErrNotFound.
func (t *archiveTree) list(x *archiveIndex, dir string, recursive bool) (treeView, error) {
	prefix := strings.TrimSuffix(dir, "/")
	if !treePathValid(prefix) {
		return treeView{}, fmt.Errorf("%w: directory %q", ErrNotFound, dir)
	}
	if prefix != "" {
		prefix += "/"
	}
	d, ok := slices.BinarySearchFunc(t.dirs, prefix, func(e treeDir, p string) int {
		return bytes.Compare(x.dirPath(e), []byte(p))
	})
	if !ok {
		return treeView{}, fmt.Errorf("%w: directory %q", ErrNotFound, dir)
	}
	v := treeView{x: x, t: t}
	if !recursive {
		dd := t.dirs[d]
		v.dirList = t.dirsByParent[dd.dirsFrom:dd.dirsTo]
		v.nDirs = len(v.dirList)
		v.files = t.filesByParent[dd.filesFrom:dd.filesTo]
		return v, nil
	}
	// Everything with the prefix is adjacent, right after the directory.
	outside := func(name []byte) bool { return !bytes.HasPrefix(name, []byte(prefix)) }
	v.dirFrom = d + 1
	rest := t.dirs[d+1:]
	v.nDirs, _ = slices.BinarySearchFunc(rest, true, func(e treeDir, _ bool) int {
		if outside(x.dirPath(e)) {
			return 0
		}
		return -1
	})
	lo, _ := slices.BinarySearchFunc(t.files, prefix, func(i uint32, p string) int {
		return bytes.Compare(x.Name(int(i)), []byte(p))
	})
	n, _ := slices.BinarySearchFunc(t.files[lo:], true, func(i uint32, _ bool) int {
		if outside(x.Name(int(i))) {
			return 0
		}
		return -1
	})
	v.files = t.files[lo : lo+n]
	return v, nil
}

func (v treeView) total() int { return v.nDirs + len(v.files) }

// rows returns rows [start, end) of the listing.
func (v treeView) rows(start, end int) []treeEntry {
	rows := make([]treeEntry, 0, max(end-start, 0))
	for k := start; k < end; k++ {
		if k < v.nDirs {
			d := v.dirFrom + k
			if v.dirList != nil {
				d = int(v.dirList[k])
			}
			rows = append(rows, v.dirRow(v.t.dirs[d]))
			continue
		}
		rows = append(rows, v.fileRow(int(v.files[k-v.nDirs])))
	}
	return rows
}

func (v treeView) dirRow(d treeDir) treeEntry {
	path := string(v.x.dirPath(d))
	trimmed := path[:len(path)-1]
	e := treeEntry{Name: trimmed[strings.LastIndexByte(trimmed, '/')+1:], Path: path, Type: treeTypeDirectory}
	if d.modeEntry >= 0 {
		e.Mode = zipEntryMode(v.x.ExternalAttrs(int(d.modeEntry)), true)
	}
	return e
}

func (v treeView) fileRow(i int) treeEntry {
	path := string(v.x.Name(i))
	size := int64(v.x.UncompressedSize(i))
	return treeEntry{
		Name: path[strings.LastIndexByte(path, '/')+1:], Path: path, Type: treeTypeFile,
		Size: &size, Mode: zipEntryMode(v.x.ExternalAttrs(i), false),
	}
}

// treeStreamBatch is how many rows a streaming pass keeps at most: a page
// (at most maxPerPage + 1 rows) always fits, and a pass costs about 1 MiB.
const treeStreamBatch = 4096

// treeStreamMaxOffset is the deepest row a streaming listing reaches: each
// treeStreamBatch rows skipped cost one more walk of the directory. Beyond
// it the answer is GitLab's 405 for offset pagination past its limit.
const treeStreamMaxOffset = 50000

// streamTreeRows returns rows [offset, offset+n) of the listing of dir as
// listArchiveTree would order it (fewer at its end), reading the central
// directory in passes that each keep at most treeStreamBatch rows: its
// memory does not depend on the archive. Errors are listArchiveTree's.
func streamTreeRows(ctx context.Context, ra io.ReaderAt, size int64, dir string, recursive bool, offset, n int) ([]treeEntry, error) {
	return streamTreeRowsBatch(ctx, ra, size, dir, recursive, offset, n, treeStreamBatch)
}

// streamTreeRowsBatch is streamTreeRows keeping batch rows a pass.
func streamTreeRowsBatch(ctx context.Context, ra io.ReaderAt, size int64, dir string, recursive bool, offset, n, batch int) ([]treeEntry, error) {
	prefix := strings.TrimSuffix(dir, "/")
	prefixValid := treePathValid(prefix)
	if prefix != "" {
		prefix += "/"
	}
	var rows []treeEntry
	var after *treeCandidate // the last row of the previous pass
	for seen := 0; ; {
		pass := treePass{prefix: prefix, recursive: recursive, after: after, keep: batch, found: prefix == ""}
		err := walkCentralDirectory(ctx, ra, size, func(rec *ziparchive.Record) (bool, error) {
			if prefixValid {
				pass.addRecord(rec)
			}
			return false, nil
		})
		if err != nil {
			return nil, err
		}
		if !prefixValid || !pass.found {
			return nil, fmt.Errorf("%w: directory %q", ErrNotFound, dir)
		}
		kept := pass.result()
		for k := range kept {
			if pos := seen + k; pos >= offset && pos < offset+n {
				rows = append(rows, kept[k].row)
			}
		}
		seen += len(kept)
		if len(kept) < batch || seen >= offset+n {
			return rows, nil
		}
		after = &kept[len(kept)-1]
	}
}

// treeCandidate is a row seen by a streaming pass, with what orders it.
type treeCandidate struct {
	file bool
	path string
	seq  uint64 // central-directory position of the record it came from
	row  treeEntry
}

func compareCandidates(a, b *treeCandidate) int {
	return cmp.Or(compareBool(a.file, b.file), strings.Compare(a.path, b.path))
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	default:
		return 1
	}
}

// treePass keeps the keep smallest distinct rows after after.
type treePass struct {
	prefix    string
	recursive bool
	after     *treeCandidate
	keep      int
	found     bool
	seq       uint64
	cands     []treeCandidate
	limit     *treeCandidate // rows above it cannot make the cut
	limitRow  treeCandidate
}

// addRecord is treeListing.addRecord for a pass.
func (p *treePass) addRecord(rec *ziparchive.Record) {
	p.seq++
	name := rec.Name
	isDir := len(name) > 0 && name[len(name)-1] == '/'
	clean := name
	if isDir {
		clean = name[:len(name)-1]
	}
	if len(clean) == 0 || !treePathValid(clean) || len(name) < len(p.prefix) || string(name[:len(p.prefix)]) != p.prefix {
		return
	}
	p.found = true
	if len(clean) <= len(p.prefix) {
		return
	}
	rest := clean[len(p.prefix):]
	for i, c := range rest {
		if c != '/' {
			continue
		}
		p.add(name[:len(p.prefix)+i+1], nil)
		if !p.recursive {
			return
		}
	}
	p.add(name, rec)
}

func (p *treePass) add(key []byte, explicit *ziparchive.Record) {
	c := treeCandidate{file: key[len(key)-1] != '/'}
	// Compare without allocating; most keys are rejected here.
	probe := treeCandidate{file: c.file, path: string(key)}
	if p.after != nil && compareCandidates(&probe, p.after) <= 0 {
		return
	}
	if p.limit != nil && compareCandidates(&probe, p.limit) > 0 {
		return
	}
	c.path, c.seq = probe.path, p.seq
	trimmed := strings.TrimSuffix(c.path, "/")
	c.row = treeEntry{Name: trimmed[strings.LastIndexByte(trimmed, '/')+1:], Path: c.path, Type: treeTypeFile}
	if explicit != nil {
		c.row.Mode = zipEntryMode(explicit.ExternalAttrs, !c.file)
	}
	if c.file {
		size := int64(explicit.UncompressedSize)
		c.row.Size = &size
	} else {
		c.row.Type = treeTypeDirectory
	}
	p.cands = append(p.cands, c)
	if len(p.cands) >= 2*p.keep {
		p.compact()
	}
}

// compact sorts, merges equal rows (the first record wins; a directory's
// mode is its first own entry's) and keeps the keep smallest.
func (p *treePass) compact() {
	slices.SortFunc(p.cands, func(a, b treeCandidate) int {
		return cmp.Or(compareCandidates(&a, &b), cmp.Compare(a.seq, b.seq))
	})
	out := p.cands[:0]
	for _, c := range p.cands {
		if n := len(out); n > 0 && compareCandidates(&out[n-1], &c) == 0 {
			if !c.file && out[n-1].row.Mode == "" {
				out[n-1].row.Mode = c.row.Mode
			}
			continue
		}
		out = append(out, c)
	}
	if len(out) > p.keep {
		clear(out[p.keep:])
		out = out[:p.keep]
	}
	p.cands = out
	if len(out) == p.keep {
		p.limitRow = out[len(out)-1]
		p.limit = &p.limitRow
	}
}

func (p *treePass) result() []treeCandidate {
	p.compact()
	return p.cands
}
