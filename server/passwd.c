/* SPDX-License-Identifier: MIT */
/*
 * passwd.c - `cairn passwd`, the password-file tool (usage and behaviour in
 * passwd.h).  It edits the file as lines: the line of USER is replaced or
 * removed, every other line is copied unchanged, so comments and hashes
 * written by other tools (mosquitto_passwd) survive.
 */
#include "passwd.h"

#include "auth/auth.h"

#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

enum { EXIT_FAIL = 1, EXIT_USAGE = 2 };

#define MAX_PASSWORD 65535 /* MQTT's length limit for the password field */

typedef struct pw_args {
    bool create, batch, del;
    uint32_t iterations;
    const char *file, *user, *password;
} pw_args_t;

static int usage(FILE *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage(FILE *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("cairn: passwd: ", err);
    vfprintf(err, fmt, ap);
    va_end(ap);
    fprintf(err, "\nUsage: cairn passwd [-I ITERATIONS] [-c] FILE USER\n"
                 "       cairn passwd [-I ITERATIONS] [-c] -b FILE USER PASSWORD\n"
                 "       cairn passwd -D FILE USER\n");
    return EXIT_USAGE;
}

static int parse_iterations(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < 1000 || v > MQ_AUTH_MAX_ITERATIONS)
        return CN_EINVAL;
    *out = (uint32_t)v;
    return 0;
}

static int parse_args(int argc, char **argv, pw_args_t *a, FILE *err)
{
    memset(a, 0, sizeof *a);
    a->iterations = MQ_AUTH_DEFAULT_ITERATIONS;
    const char *pos[3];
    int npos = 0;
    for (int i = 2; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "-c") == 0) {
            a->create = true;
        } else if (strcmp(s, "-b") == 0) {
            a->batch = true;
        } else if (strcmp(s, "-D") == 0) {
            a->del = true;
        } else if (strcmp(s, "-I") == 0) {
            if (i + 1 >= argc || parse_iterations(argv[++i], &a->iterations) < 0)
                return usage(err, "-I needs an iteration count from 1000 to 100000000");
        } else if (s[0] == '-' && s[1] && npos == 0) {
            return usage(err, "unknown option '%s'", s);
        } else if (npos == 3) {
            return usage(err, "unexpected argument '%s'", s);
        } else {
            pos[npos++] = s;
        }
    }
    if (a->create && a->del)
        return usage(err, "-c and -D cannot be used together");
    if (a->batch && a->del)
        return usage(err, "-b and -D cannot be used together");
    int want = a->batch ? 3 : 2;
    if (npos < want && a->batch)
        return usage(err, "-b needs FILE, USER and PASSWORD");
    if (npos < want)
        return usage(err, "needs FILE and USER");
    if (npos > want)
        return usage(err, "unexpected argument '%s' (use -b to give the password)", pos[want]);
    a->file = pos[0];
    a->user = pos[1];
    a->password = a->batch ? pos[2] : NULL;
    if (!mq_auth_user_valid(a->user, strlen(a->user))) {
        fprintf(err,
                "cairn: passwd: bad user name '%s' (1 to 65535 bytes of UTF-8 without ':' or "
                "control characters)\n",
                a->user);
        return EXIT_USAGE;
    }
    return 0;
}

/* Reads one line (without its newline) from in into buf.  Returns the
 * length, or -1 at EOF before any byte, or CN_ELIMIT when too long. */
static int read_line(FILE *in, char *buf, size_t cap)
{
    size_t n = 0;
    int c;
    while ((c = fgetc(in)) != EOF && c != '\n') {
        if (n + 1 >= cap)
            return CN_ELIMIT;
        buf[n++] = (char)c;
    }
    if (c == EOF && n == 0)
        return -1;
    if (n && buf[n - 1] == '\r')
        n--;
    buf[n] = 0;
    return (int)n;
}

/* Prompts on the terminal with echo off; restores the mode afterwards. */
static int prompt(const char *text, char *buf, size_t cap, FILE *err)
{
    struct termios old, quiet;
    if (tcgetattr(STDIN_FILENO, &old) < 0)
        return -errno;
    quiet = old;
    quiet.c_lflag &= (tcflag_t)~ECHO;
    quiet.c_lflag |= ECHONL;
    /* Echo off before the prompt shows: input typed after it is never echoed
     * (and TCSAFLUSH only drops what was typed before it). */
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) < 0)
        return -errno;
    fputs(text, err);
    fflush(err);
    int n = read_line(stdin, buf, cap);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    return n;
}

/* Gets the password into buf (cap bytes).  Returns its length or EXIT_*
 * as a negative number after printing the reason. */
static int get_password(const pw_args_t *a, char *buf, size_t cap, FILE *err)
{
    int n;
    if (a->batch) {
        n = (int)strlen(a->password);
        if ((size_t)n > MAX_PASSWORD) {
            fprintf(err, "cairn: passwd: password longer than 65535 bytes\n");
            return -EXIT_USAGE;
        }
        memcpy(buf, a->password, (size_t)n + 1);
    } else if (isatty(STDIN_FILENO)) {
        char again[MAX_PASSWORD + 2];
        n = prompt("Password: ", buf, cap, err);
        int m = n >= 0 ? prompt("Reenter password: ", again, sizeof again, err) : n;
        bool same = n == m && (n < 0 || memcmp(buf, again, (size_t)n) == 0);
        memset(again, 0, sizeof again);
        if (n >= 0 && m >= 0 && !same) {
            fprintf(err, "cairn: passwd: passwords do not match\n");
            return -EXIT_FAIL;
        }
        n = m < 0 ? m : n;
    } else {
        n = read_line(stdin, buf, cap);
    }
    if (n == CN_ELIMIT) {
        fprintf(err, "cairn: passwd: password longer than 65535 bytes\n");
        return -EXIT_FAIL;
    }
    if (n < 0) {
        fprintf(err, "cairn: passwd: no password given\n");
        return -EXIT_FAIL;
    }
    if (n == 0) {
        fprintf(err, "cairn: passwd: empty password\n");
        return -EXIT_FAIL;
    }
    return n;
}

/* Writes text to path atomically with mode 0600 (see passwd.h). */
static int write_file(const char *path, const char *text, size_t len)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    int fd = mkstemp(tmp); /* 0600, in the target's directory */
    if (fd < 0)
        return -errno;
    int rc = fchmod(fd, 0600) < 0 ? -errno : 0;
    if (rc == 0)
        rc = cn_write_all(fd, text, len);
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0) {
        unlink(tmp);
        return rc;
    }
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = 0;
    else if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    return cn_fsync_dir(dir);
}

/* The new file text: old with USER's line replaced by `line` (or removed
 * when line is NULL), or line appended.  *found (OUT) says whether USER
 * had a line. */
static void edit(const char *old, size_t len, const char *user, const char *line, cn_buf_t *out,
                 bool *found)
{
    size_t ulen = strlen(user);
    const char *p = old, *end = old + len;
    *found = false;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *next = nl ? nl + 1 : end;
        bool mine = (size_t)(end - p) > ulen && memcmp(p, user, ulen) == 0 && p[ulen] == ':';
        if (!mine) {
            cn_buf_put(out, p, (size_t)(next - p));
            if (!nl)
                cn_buf_put_u8(out, '\n');
        } else if (line && !*found) {
            cn_buf_put(out, line, strlen(line));
        }
        *found |= mine;
        p = next;
    }
    if (line && !*found)
        cn_buf_put(out, line, strlen(line));
}

/* Reads and checks the current file.  Returns 0 or EXIT_FAIL. */
static int read_current(const char *path, uint8_t **text, size_t *len, FILE *err)
{
    int rc = cn_file_read_all(path, text, len);
    if (rc == -ENOENT) {
        fprintf(err, "cairn: passwd: %s: %s (use -c to create it)\n", path, cn_strerror(rc));
        return EXIT_FAIL;
    }
    if (rc < 0) {
        fprintf(err, "cairn: passwd: %s: %s\n", path, cn_strerror(rc));
        return EXIT_FAIL;
    }
    mq_auth_pwfile_t *pf;
    if (mq_auth_pwfile_parse(path, (const char *)*text, *len, err, &pf) < 0) {
        fprintf(err, "cairn: passwd: %s is not a valid password file; it was not changed\n", path);
        cn_free(*text);
        return EXIT_FAIL;
    }
    mq_auth_pwfile_free(pf);
    return 0;
}

/* Builds USER's new line ("user:hash\n") into *line (owned).  Returns 0 or
 * an exit code after printing the reason. */
static int new_line(const pw_args_t *a, char **line, FILE *err)
{
    char *pw = cn_malloc(MAX_PASSWORD + 2);
    int n = get_password(a, pw, MAX_PASSWORD + 2, err);
    int code = 0;
    *line = NULL;
    if (n < 0) {
        code = -n;
    } else {
        size_t ulen = strlen(a->user);
        char *l = cn_malloc(ulen + MQ_AUTH_HASH_TEXT_MAX + 2);
        memcpy(l, a->user, ulen);
        l[ulen] = ':';
        int rc = mq_auth_hash_make((const uint8_t *)pw, (size_t)n, a->iterations, l + ulen + 1,
                                   MQ_AUTH_HASH_TEXT_MAX);
        if (rc < 0) {
            fprintf(err, "cairn: passwd: hashing failed: %s\n", cn_strerror(rc));
            cn_free(l);
            code = EXIT_FAIL;
        } else {
            strcat(l, "\n");
            *line = l;
        }
    }
    memset(pw, 0, MAX_PASSWORD + 2);
    cn_free(pw);
    return code;
}

int srv_passwd_main(int argc, char **argv, FILE *err)
{
    pw_args_t a;
    int code = parse_args(argc, argv, &a, err);
    if (code)
        return code;
    uint8_t *old = NULL; /* the current file, checked before any prompt */
    size_t len = 0;
    if (!a.create && (code = read_current(a.file, &old, &len, err)) != 0)
        return code;
    char *line = NULL;
    if (!a.del && (code = new_line(&a, &line, err)) != 0) {
        cn_free(old);
        return code;
    }
    cn_buf_t out;
    cn_buf_init(&out);
    bool found;
    edit((const char *)old, len, a.user, line, &out, &found);
    if (a.del && !found) {
        fprintf(err, "cairn: passwd: user '%s' not found in %s\n", a.user, a.file);
        code = EXIT_FAIL;
    } else {
        int rc = write_file(a.file, (const char *)out.p, out.len);
        if (rc < 0) {
            fprintf(err, "cairn: passwd: cannot write %s: %s\n", a.file, cn_strerror(rc));
            code = EXIT_FAIL;
        }
    }
    cn_buf_free(&out);
    cn_free(line);
    cn_free(old);
    return code;
}
