/* A fault injector for the file-storage tests, loaded with LD_PRELOAD into the
 * session-file-writer child. SESSION_FAULT names one fault:
 *
 *   write-enospc, write-eio  a write(2) to a session temp file (".tmp-" in its path) fails
 *   fsync-eio                fsync(2) of a session temp file fails
 *   rename-eio               rename(2) of a session temp file fails
 *   dir-fsync-eio            fsync(2) of a directory fails (after the rename)
 *
 * Everything else goes to the real libc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fault(const char *name) {
    const char *set = getenv("SESSION_FAULT");
    return set != NULL && strcmp(set, name) == 0;
}

static int is_temp_fd(int fd) {
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n < 0) return 0;
    path[n] = '\0';
    return strstr(path, "/.tmp-") != NULL;
}

static int is_dir_fd(int fd) {
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

ssize_t write(int fd, const void *buf, size_t count) {
    static ssize_t (*real)(int, const void *, size_t);
    if (!real) real = dlsym(RTLD_NEXT, "write");
    if ((fault("write-enospc") || fault("write-eio")) && is_temp_fd(fd)) {
        errno = fault("write-enospc") ? ENOSPC : EIO;
        return -1;
    }
    return real(fd, buf, count);
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = dlsym(RTLD_NEXT, "fsync");
    if ((fault("fsync-eio") && is_temp_fd(fd)) || (fault("dir-fsync-eio") && is_dir_fd(fd))) {
        errno = EIO;
        return -1;
    }
    return real(fd);
}

int rename(const char *from, const char *to) {
    static int (*real)(const char *, const char *);
    if (!real) real = dlsym(RTLD_NEXT, "rename");
    if (fault("rename-eio") && strstr(from, "/.tmp-") != NULL) {
        errno = EIO;
        return -1;
    }
    return real(from, to);
}
