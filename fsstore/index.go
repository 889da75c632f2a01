package fsstore

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Indexes are hints: entries are added before the record they point at is
// written and removed after it, and every lookup checks the record it
// reaches. A crash in between leaves an entry that lookups skip.

// readIDLines reads up to limit ids (all when limit <= 0) from a file with
// one decimal id a line. A missing file has no ids. Reading stops early, so
// taking the first line of a long index costs the same as of a short one.
func readIDLines(path string, limit int) ([]int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fsstore: %w", err)
	}
	defer f.Close()
	var ids []int64
	lines := bufio.NewScanner(f)
	for (limit <= 0 || len(ids) < limit) && lines.Scan() {
		n, err := strconv.ParseInt(strings.TrimSpace(lines.Text()), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("fsstore: index %s: %w", path, err)
		}
		ids = append(ids, n)
	}
	if err := lines.Err(); err != nil {
		return nil, fmt.Errorf("fsstore: index %s: %w", path, err)
	}
	return ids, nil
}

// writeIDLines replaces the file with ids, one a line, or removes it when
// there are none.
func (s *Store) writeIDLines(path string, ids []int64) error {
	if len(ids) == 0 {
		if err := s.removeFile(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("fsstore: %w", err)
		}
		return nil
	}
	var b strings.Builder
	for _, n := range ids {
		b.WriteString(strconv.FormatInt(n, 10))
		b.WriteByte('\n')
	}
	return s.writeFile(path, []byte(b.String()))
}

// addID inserts n into a highest-first id list; it reports whether the list
// changed.
func addID(ids []int64, n int64) ([]int64, bool) {
	i, found := slices.BinarySearchFunc(ids, n, func(a, b int64) int { return -cmpInt(a, b) })
	if found {
		return ids, false
	}
	return slices.Insert(ids, i, n), true
}

// removeID removes n from an id list; it reports whether the list changed.
func removeID(ids []int64, n int64) ([]int64, bool) {
	i := slices.Index(ids, n)
	if i < 0 {
		return ids, false
	}
	return slices.Delete(ids, i, i+1), true
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// addSuccessfulPipeline records pipelineID in the ref's index.
func (s *Store) addSuccessfulPipeline(projectID int64, ref string, pipelineID int64) error {
	path := s.refFile(projectID, ref)
	ids, err := readIDLines(path, 0)
	if err != nil {
		return err
	}
	if ids, changed := addID(ids, pipelineID); changed {
		return s.writeIDLines(path, ids)
	}
	return nil
}

// removeSuccessfulPipeline drops pipelineID from the ref's index.
func (s *Store) removeSuccessfulPipeline(projectID int64, ref string, pipelineID int64) error {
	path := s.refFile(projectID, ref)
	ids, err := readIDLines(path, 0)
	if err != nil {
		return err
	}
	if ids, changed := removeID(ids, pipelineID); changed {
		return s.writeIDLines(path, ids)
	}
	return nil
}

// pipelineJobs is a pipeline's job index: job name → job ids, highest first.
type pipelineJobs map[string][]int64

func (s *Store) readPipelineJobs(projectID, pipelineID int64) (pipelineJobs, error) {
	index := pipelineJobs{}
	err := readJSON(s.pipelineJobsFile(projectID, pipelineID), "pipeline job index", &index)
	if err != nil && !isNotFound(err) {
		return nil, err
	}
	return index, nil
}

// changePipelineJobs applies change to the pipeline's job index and writes
// it back if it changed.
func (s *Store) changePipelineJobs(projectID, pipelineID int64, change func(pipelineJobs)) error {
	index, err := s.readPipelineJobs(projectID, pipelineID)
	if err != nil {
		return err
	}
	before, err := json.Marshal(index)
	if err != nil {
		return fmt.Errorf("fsstore: %w", err)
	}
	change(index)
	after, err := json.Marshal(index)
	if err != nil {
		return fmt.Errorf("fsstore: %w", err)
	}
	if bytes.Equal(before, after) {
		return nil
	}
	return s.writeJSON(s.pipelineJobsFile(projectID, pipelineID), index)
}

// readPathIndex returns the project id recorded for a full path, or false.
func (s *Store) readPathIndex(path string) (int64, bool, error) {
	data, err := os.ReadFile(s.pathFile(path))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("fsstore: %w", err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("fsstore: path index %s: %w", s.pathFile(path), err)
	}
	return n, true, nil
}
