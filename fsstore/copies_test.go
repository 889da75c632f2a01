package fsstore

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// copyCases are jobs as stored, with every shape a copy lays out
// differently: no artifacts, one (inline), several; slices nil, empty and
// set; pointers nil and set.
func copyCases() map[string]jobartifacts.Job {
	cases := benchJobs()
	none := cases["bare"]
	none.Artifacts = nil
	cases["no artifacts"] = none
	empty := cases["full"]
	// Room to append in the record's arrays is the record's too.
	empty.Artifacts, empty.TagList = make([]jobartifacts.Artifact, 0, 2), make([]string, 0, 2)
	commit := *empty.Commit
	commit.ParentIDs = []string{}
	empty.Commit = &commit
	cases["empty slices"] = empty
	two := cases["full"]
	two.Artifacts = two.Artifacts[:2]
	two.User, two.Runner = nil, nil
	cases["two artifacts, no user"] = two
	return cases
}

func copyCasePipeline() jobartifacts.Pipeline {
	created, updated := time.Unix(1_800_000_000, 0).UTC(), time.Unix(1_800_000_100, 0).UTC()
	return jobartifacts.Pipeline{ID: 10, ProjectID: 1, Ref: "main", Status: jobartifacts.StatusSuccess, CreatedAt: &created, UpdatedAt: &updated}
}

// TestCopiesShareNothing: a copy equals the job with its pipeline (nil and
// empty slices told apart), and no memory it points to is the record's or
// the pipeline's, nor used twice within it: whatever a caller writes
// through one field shows nowhere else.
func TestCopiesShareNothing(t *testing.T) {
	project := jobartifacts.Project{ID: 1, PathWithNamespace: "group/app", JobTokenAllowlist: []int64{2, 3}}
	for name, stored := range copyCases() {
		t.Run(name, func(t *testing.T) {
			pipeline := copyCasePipeline()
			want := stored
			want.Pipeline = pipeline
			original := regions(reflect.ValueOf(&stored), reflect.ValueOf(&pipeline), reflect.ValueOf(&project))

			j := copyJob(&stored, &pipeline)
			require.Equal(t, want, *j)
			requireOwnMemory(t, original, regions(reflect.ValueOf(j)))

			p, j := copyProjectJob(&project, &stored, &pipeline)
			require.Equal(t, project, *p)
			require.Equal(t, want, *j)
			requireOwnMemory(t, original, regions(reflect.ValueOf(p), reflect.ValueOf(j)))

			p = copyProject(&project)
			require.Equal(t, project, *p)
			requireOwnMemory(t, original, regions(reflect.ValueOf(p)))
		})
	}
}

// region is memory a value points to: a pointer's target or a slice's
// whole array (its capacity, where an append writes).
type region struct {
	start, end uintptr
	what       string
}

// regions lists the memory that vs point to, recursively. Strings are
// left out: they cannot be written through.
func regions(vs ...reflect.Value) []region {
	var out []region
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() {
				return
			}
			out = append(out, region{v.Pointer(), v.Pointer() + v.Type().Elem().Size(), path})
			walk(v.Elem(), path)
		case reflect.Slice:
			if v.Cap() > 0 {
				size := uintptr(v.Cap()) * v.Type().Elem().Size()
				out = append(out, region{v.Pointer(), v.Pointer() + size, path + "[]"})
			}
			for i := range v.Len() {
				walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
			}
		case reflect.Struct:
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					walk(v.Field(i), path+"."+v.Type().Field(i).Name)
				}
			}
		}
	}
	for _, v := range vs {
		walk(v, v.Type().String())
	}
	return out
}

// requireOwnMemory: no region of a copy overlaps the original's, and the
// copy's pointers and arrays do not overlap one another, but for what a
// struct pointer's target holds (a job holds its pipeline's fields).
func requireOwnMemory(t *testing.T, original, copied []region) {
	t.Helper()
	overlap := func(a, b region) bool { return a.start < b.end && b.start < a.end }
	for _, c := range copied {
		for _, o := range original {
			require.False(t, overlap(c, o), "%s shares memory with the record's %s", c.what, o.what)
		}
	}
	for i, a := range copied {
		for _, b := range copied[i+1:] {
			nested := a.start <= b.start && b.end <= a.end || b.start <= a.start && a.end <= b.end
			if overlap(a, b) && !nested {
				require.Fail(t, "copy's memory used twice", "%s and %s", a.what, b.what)
			}
			if a.start == b.start && a.end == b.end && a.what != b.what {
				require.Fail(t, "copy's memory used twice", "%s and %s", a.what, b.what)
			}
		}
	}
}

// scribble changes every value that v points to or holds, and appends to
// every slice, as a caller keeping what it read may do.
func scribble(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			scribble(v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			scribble(v.Index(i))
		}
		if v.CanSet() {
			v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(1, 0)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				scribble(v.Field(i))
			}
		}
	case reflect.String:
		v.SetString("scribbled")
	case reflect.Int, reflect.Int64:
		v.SetInt(-7)
	case reflect.Float64:
		v.SetFloat(-7)
	case reflect.Bool:
		v.SetBool(!v.Bool())
	}
}

// TestReadsHandOutCopies: whatever a caller does to what a read returned,
// from the files or from memory, the next reads answer as stored.
func TestReadsHandOutCopies(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTestStore(t, dir)
	project := jobartifacts.Project{ID: 1, PathWithNamespace: "group/app", Visibility: "private", JobTokenAllowlist: []int64{2, 3}}
	require.NoError(t, s.PutProject(ctx, project))
	pipeline := copyCasePipeline()
	require.NoError(t, s.PutPipeline(ctx, pipeline))
	stored := benchJobs()["full"]
	stored.Status = jobartifacts.StatusSuccess
	require.NoError(t, s.PutJob(ctx, stored))
	want := stored
	want.Pipeline = pipeline

	for _, r := range []*Store{s, openTestStore(t, dir)} { // r's first reads are from the files
		for round := range 3 {
			jobs, projects := readAll(t, r)
			for i, j := range jobs {
				require.Equal(t, want, *j, "round %d, job read %d", round, i)
				scribble(reflect.ValueOf(j))
			}
			for i, p := range projects {
				require.Equal(t, project, *p, "round %d, project read %d", round, i)
				scribble(reflect.ValueOf(p))
			}
		}
	}
}
