package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// procStatus sums a "kB" field of /proc/PID/status (VmRSS, VmHWM) over
// pids, in KiB: nginx serves from several worker processes.
func procStatus(pids []int, field string) (int64, error) {
	var sum int64
	for _, pid := range pids {
		f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return 0, err
		}
		found := false
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			name, rest, ok := strings.Cut(sc.Text(), ":")
			if !ok || name != field {
				continue
			}
			v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				f.Close()
				return 0, fmt.Errorf("/proc/%d/status: %s: %w", pid, field, err)
			}
			sum += v
			found = true
		}
		f.Close()
		if !found {
			return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
		}
	}
	return sum, nil
}

// resetPeak sets each process's VmHWM back to its current RSS (writing 5
// to clear_refs, Linux ≥ 4.0) and returns the summed RSS, in KiB: what a
// later VmHWM is compared with.
func resetPeak(pids []int) (int64, error) {
	for _, pid := range pids {
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
			return 0, err
		}
	}
	return procStatus(pids, "VmRSS")
}

// parsePids reads a comma-separated list of process ids.
func parsePids(s string) ([]int, error) {
	var pids []int
	for f := range strings.SplitSeq(s, ",") {
		pid, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("pid %q: %w", f, err)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}
