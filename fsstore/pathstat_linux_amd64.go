package fsstore

import "syscall"

// sysFstatat is fstatat(2) (with struct stat, as syscall.Stat_t).
const sysFstatat = syscall.SYS_NEWFSTATAT
