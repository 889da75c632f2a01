package fsstore

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"sync"

	"github.com/ciartifacts/jobartifacts"
)

// Metadata reads are served from memory while the store has not changed.
// The first 8 bytes of meta.lock are the store's generation: every write,
// in any process, replaces them with a fresh random value under the
// exclusive lock, before it changes anything else. A read first reads the
// generation (a load from a shared mapping of the file, else one pread; no lock); if its records of that generation are
// all in memory, it answers from them without opening or locking anything.
// Otherwise it runs as before, under the shared lock, reading the files and
// keeping what it decoded, tagged with the generation read under that lock.
// What a read makes of several records (ProjectJob's project, job and
// pipeline) is kept too, tagged with their generation, so that the next
// such read is one lookup.
//
// A read that sees the old generation while a write is under way answers
// as of before the write, which a read that started before the write may
// do. A write that crashes midway has already replaced the generation, so
// nothing cached before it is used again. An empty meta.lock (a store made
// by an older version, or a write that could not replace the generation and
// truncated the file instead) means "no generation": nothing is cached.

// errCacheMiss stops a read from memory that needs a record it does not
// have: the read then runs again from the files.
var errCacheMiss = errors.New("fsstore: not cached")

// recordCacheHalf bounds the cache: it keeps at most twice this many
// records, the most recently used.
const recordCacheHalf = 4096

// recordCache keeps decoded metadata files of one generation.
type recordCache struct {
	mu      sync.Mutex
	gen     uint64
	records recentMap[recordKey, cachedRecord]
}

// recordKey names a cached record: a letter for its kind and the ids or
// path that locate its file (a struct, so that a lookup builds no string).
type recordKey struct {
	kind byte
	a, b int64
	s    string
}

// cachedRecord is what reading a file gave: a decoded value, or
// ErrNotFound.
type cachedRecord struct {
	v   any
	err error
}

func (c *recordCache) lookup(gen uint64, key recordKey) (cachedRecord, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return cachedRecord{}, false
	}
	return c.records.get(key)
}

// keep stores r if the cache holds generation gen: a read from memory
// found what r is made of there, and a newer generation may have come
// since, which it must not put back.
func (c *recordCache) keep(gen uint64, key recordKey, r cachedRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.records.put(key, r)
	}
}

func (c *recordCache) store(gen uint64, key recordKey, r cachedRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		c.gen, c.records = gen, recentMap[recordKey, cachedRecord]{}
	}
	c.records.put(key, r)
}

// recentMap keeps the values used lately: it is two maps, a value found in
// the older is moved to the newer, and when the newer is full the older is
// dropped, so that it holds at most 2×recordCacheHalf values. The zero
// value is empty; the caller locks.
type recentMap[K comparable, V any] struct {
	cur, prev map[K]V
}

func (m *recentMap[K, V]) get(key K) (V, bool) {
	if v, ok := m.cur[key]; ok {
		return v, true
	}
	v, ok := m.prev[key]
	if ok {
		m.put(key, v)
	}
	return v, ok
}

func (m *recentMap[K, V]) put(key K, v V) {
	if len(m.cur) >= recordCacheHalf {
		m.prev, m.cur = m.cur, nil
	}
	if m.cur == nil {
		m.cur = make(map[K]V)
	}
	m.cur[key] = v
}

// generation returns the store's generation, or 0 when there is none. s.mu
// must be held (Close unmaps it).
func (s *Store) generation() uint64 { return s.genFile.load() }

// newGeneration replaces the generation in meta.lock, open as f with the
// exclusive lock held; if it cannot, it empties the file (no generation,
// nothing cached), and fails only if that fails too.
func newGeneration(f *os.File) error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64()|1) // never 0
	if _, err := f.WriteAt(b[:], 0); err == nil {
		return nil
	}
	return f.Truncate(0)
}

// metaView reads metadata records: from the files only (gen 0, what
// writers use), or through the cache of generation gen; with only set, a
// record that is not cached is errCacheMiss. The records it returns may be
// the cache's, shared by every read: to read only. What a read hands out
// is a copy (copies.go), made once the read has found it.
type metaView struct {
	s    *Store
	gen  uint64
	only bool
}

// files is the view of writers: the files as they are now.
func (s *Store) files() metaView { return metaView{s: s} }

// view runs fn, a metadata read, from memory when it can, else under the
// shared lock (see read) with the files, keeping what it reads. fn may run
// twice: it must only read.
func (s *Store) view(ctx context.Context, fn func(v metaView) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err, done := s.viewCached(fn); done {
		return err
	}
	return s.read(ctx, func() error {
		return fn(metaView{s: s, gen: s.generation()})
	})
}

// viewCached runs fn from memory only; done is false if it could not.
func (s *Store) viewCached(fn func(v metaView) error) (err error, done bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed.Load() {
		return ErrClosed, true
	}
	gen := s.generation()
	if gen == 0 {
		return nil, false
	}
	err = fn(metaView{s: s, gen: gen, only: true})
	if errors.Is(err, errCacheMiss) {
		return nil, false
	}
	return err, true
}

// cached returns the record under key: from the cache, or from load, whose
// value (or ErrNotFound) is then kept.
func (v metaView) cached(key recordKey, load func() (any, error)) (any, error) {
	if v.gen == 0 {
		return load()
	}
	if r, ok := v.s.records.lookup(v.gen, key); ok {
		return r.v, r.err
	}
	if v.only {
		return nil, errCacheMiss
	}
	x, err := load()
	if err == nil || isNotFound(err) {
		v.s.records.store(v.gen, key, cachedRecord{x, err})
	}
	return x, err
}

// project returns the project as stored, to read only (copyProject).
// derived returns what compute makes of other records, which it reads
// through v, and keeps it like a record: it is of the generation they are
// of. From memory only, compute fails with errCacheMiss unless they are
// all there.
func (v metaView) derived(key recordKey, compute func() (any, error)) (any, error) {
	if v.gen == 0 {
		return compute()
	}
	if r, ok := v.s.records.lookup(v.gen, key); ok {
		return r.v, r.err
	}
	x, err := compute()
	if err == nil || isNotFound(err) {
		v.s.records.keep(v.gen, key, cachedRecord{x, err})
	}
	return x, err
}

// projectJobRecords are the records ProjectJob hands out copies of: the
// project, and the job as stored with its pipeline, to read only.
type projectJobRecords struct {
	project  *jobartifacts.Project
	job      *jobartifacts.Job
	pipeline *jobartifacts.Pipeline
}

// projectAndJob returns the project and job jobID of it with its pipeline,
// in one lookup once they are in memory. When the job lookup fails, the
// project comes with its error.
func (v metaView) projectAndJob(projectID, jobID int64) (projectJobRecords, error) {
	x, err := v.derived(recordKey{kind: 'P', a: projectID, b: jobID}, func() (any, error) {
		var r projectJobRecords
		var err error
		if r.project, err = v.project(projectID); err != nil {
			return r, err
		}
		job, err := v.job(jobID)
		if err == nil {
			job, err = jobOfProject(job, projectID)
		}
		if err == nil {
			r.pipeline, err = v.pipeline(job.ProjectID, job.Pipeline.ID)
		}
		if err == nil {
			r.job = job
		}
		return r, err
	})
	return x.(projectJobRecords), err
}

func (v metaView) project(projectID int64) (*jobartifacts.Project, error) {
	x, err := v.cached(recordKey{kind: 'p', a: projectID}, func() (any, error) { return v.s.loadProject(projectID) })
	if err != nil {
		return nil, err
	}
	return x.(*jobartifacts.Project), nil
}

// pipeline returns the pipeline as stored, to read only.
func (v metaView) pipeline(projectID, pipelineID int64) (*jobartifacts.Pipeline, error) {
	x, err := v.cached(recordKey{kind: 'l', a: projectID, b: pipelineID}, func() (any, error) { return v.s.loadPipeline(projectID, pipelineID) })
	if err != nil {
		return nil, err
	}
	return x.(*jobartifacts.Pipeline), nil
}

// job returns the job as stored, to read only (copyJob): its Pipeline
// holds only the id.
func (v metaView) job(jobID int64) (*jobartifacts.Job, error) {
	x, err := v.cached(recordKey{kind: 'j', a: jobID}, func() (any, error) { return v.s.loadJob(jobID) })
	if err != nil {
		return nil, err
	}
	return x.(*jobartifacts.Job), nil
}

// pathIndex returns the project id recorded for a full path, or false.
func (v metaView) pathIndex(path string) (int64, bool, error) {
	type entry struct {
		id int64
		ok bool
	}
	x, err := v.cached(recordKey{kind: 'n', s: path}, func() (any, error) {
		n, ok, err := v.s.readPathIndex(path)
		return entry{n, ok}, err
	})
	if err != nil {
		return 0, false, err
	}
	e := x.(entry)
	return e.id, e.ok, nil
}

// pipelineJobs returns the pipeline's job index, to read only.
func (v metaView) pipelineJobs(projectID, pipelineID int64) (pipelineJobs, error) {
	x, err := v.cached(recordKey{kind: 'i', a: projectID, b: pipelineID}, func() (any, error) { return v.s.readPipelineJobs(projectID, pipelineID) })
	if err != nil {
		return nil, err
	}
	return x.(pipelineJobs), nil
}

// idLines is readIDLines through the cache, to read only.
func (v metaView) idLines(path string, limit int) ([]int64, error) {
	x, err := v.cached(recordKey{kind: 'r', a: int64(limit), s: path}, func() (any, error) { return readIDLines(path, limit) })
	if err != nil {
		return nil, err
	}
	return x.([]int64), nil
}

// blobInfos keeps blob records by key. A record is used only if it
// describes the very file opened (inode, size, modification time), so it
// needs no generation: blobs are written once.
type blobInfos struct {
	mu      sync.Mutex
	records recentMap[jobartifacts.BlobKey, blobRecord]
}

func (c *blobInfos) lookup(key jobartifacts.BlobKey) (blobRecord, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.records.get(key)
}

func (c *blobInfos) store(key jobartifacts.BlobKey, r blobRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records.put(key, r)
}
