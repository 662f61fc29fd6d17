/* A fault injector for the file-storage tests, loaded with LD_PRELOAD into the
 * session-file-writer child. SESSION_FAULT names one fault:
 *
 *   write-enospc, write-eio  a write(2) to a session temp file (".tmp-" in its path) fails
 *   fsync-eio                fsync(2) of a session temp file fails
 *   rename-eio               rename(2) or renameat(2) of a session temp file fails
 *   dir-fsync-eio            fsync(2) of a directory fails (after the rename)
 *   eacces:<text>            open(2), openat(2), mkdir(2) or mkdirat(2) of a path holding
 *                            <text> is refused
 *
 * The store opens names relative to directory descriptors, so an `*at` call's path is
 * resolved against its descriptor (through /proc/self/fd) before it is matched. The test
 * binary builds rustix with its libc backend, so these calls go through libc.
 *
 * Everything else goes to the real libc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
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

/* The full path `path` names relative to `dir` (AT_FDCWD or a descriptor), in `out`. */
static const char *resolve(int dir, const char *path, char *out, size_t size) {
    if (path == NULL || path[0] == '/' || dir == AT_FDCWD) return path;
    char link[64], base[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", dir);
    ssize_t n = readlink(link, base, sizeof base - 1);
    if (n < 0) return path;
    base[n] = '\0';
    snprintf(out, size, "%s/%s", base, path);
    return out;
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

int renameat(int from_dir, const char *from, int to_dir, const char *to) {
    static int (*real)(int, const char *, int, const char *);
    if (!real) real = dlsym(RTLD_NEXT, "renameat");
    char full[4096];
    if (fault("rename-eio") && strstr(resolve(from_dir, from, full, sizeof full), "/.tmp-") != NULL) {
        errno = EIO;
        return -1;
    }
    return real(from_dir, from, to_dir, to);
}

static int denied(const char *path) {
    const char *set = getenv("SESSION_FAULT");
    return set != NULL && strncmp(set, "eacces:", 7) == 0 && path != NULL &&
           strstr(path, set + 7) != NULL;
}

/* The mode argument open(2) and openat(2) take when they create. */
#define TAKE_MODE(flags, mode)                                            \
    if ((flags) & (O_CREAT | O_TMPFILE)) {                                \
        va_list args;                                                     \
        va_start(args, flags);                                            \
        mode = va_arg(args, mode_t);                                      \
        va_end(args);                                                     \
    }

#define OPEN_SHIM(name)                                                   \
    int name(const char *path, int flags, ...) {                          \
        static int (*real)(const char *, int, ...);                       \
        if (!real) real = dlsym(RTLD_NEXT, #name);                        \
        mode_t mode = 0;                                                  \
        TAKE_MODE(flags, mode);                                           \
        if (denied(path)) {                                               \
            errno = EACCES;                                               \
            return -1;                                                    \
        }                                                                 \
        return real(path, flags, mode);                                   \
    }
OPEN_SHIM(open)
OPEN_SHIM(open64)

#define OPENAT_SHIM(name)                                                 \
    int name(int dir, const char *path, int flags, ...) {                 \
        static int (*real)(int, const char *, int, ...);                  \
        if (!real) real = dlsym(RTLD_NEXT, #name);                        \
        mode_t mode = 0;                                                  \
        TAKE_MODE(flags, mode);                                           \
        char full[4096];                                                  \
        if (denied(resolve(dir, path, full, sizeof full))) {              \
            errno = EACCES;                                               \
            return -1;                                                    \
        }                                                                 \
        return real(dir, path, flags, mode);                              \
    }
OPENAT_SHIM(openat)
OPENAT_SHIM(openat64)

int mkdir(const char *path, mode_t mode) {
    static int (*real)(const char *, mode_t);
    if (!real) real = dlsym(RTLD_NEXT, "mkdir");
    if (denied(path)) {
        errno = EACCES;
        return -1;
    }
    return real(path, mode);
}

int mkdirat(int dir, const char *path, mode_t mode) {
    static int (*real)(int, const char *, mode_t);
    if (!real) real = dlsym(RTLD_NEXT, "mkdirat");
    char full[4096];
    if (denied(resolve(dir, path, full, sizeof full))) {
        errno = EACCES;
        return -1;
    }
    return real(dir, path, mode);
}
