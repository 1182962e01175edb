package kv

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ReleaseMappedPages takes the pages of the store's table files out of the
// process's resident set, and returns how many bytes of mappings it asked
// the kernel to drop. Badger reads its tables through read-only shared
// mappings, so a scan of a large part of the store (loading a million
// sessions at start) leaves hundreds of MiB of them counted in Clinch's
// RSS, though they are the kernel's page cache. MADV_DONTNEED on a shared
// file mapping only unmaps: what it holds is the page cache's (a write
// through it already is), and the next read maps it again. Anything that
// is not a shared mapping of a .sst file in the data directory (private
// mappings, whose pages would be lost) is left alone.
func (s *Store) ReleaseMappedPages() (int64, error) {
	if s.dir == "" {
		return 0, nil
	}
	dir, err := filepath.Abs(s.dir)
	if err != nil {
		return 0, err
	}
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		dir = d
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var released int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || len(fields[1]) != 4 || fields[1][3] != 's' {
			continue
		}
		path := fields[5]
		if filepath.Dir(path) != dir || !strings.HasSuffix(path, ".sst") {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), syscall.MADV_DONTNEED); errno == 0 {
			released += int64(end - start)
		}
	}
	return released, sc.Err()
}
