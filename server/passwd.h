/* SPDX-License-Identifier: MIT */
/*
 * passwd.h - `cairn passwd`: manage a password file (issue 3), modelled on
 * mosquitto_passwd.
 *
 *   cairn passwd [-I ITERATIONS] [-c] FILE USER           prompt for the password
 *   cairn passwd [-I ITERATIONS] [-c] -b FILE USER PASSWORD
 *   cairn passwd -D FILE USER                              delete USER
 *
 *   -c  create FILE (replacing an existing one) with USER as its only user
 *   -b  batch: the password is the last argument (visible in `ps`: scripts
 *       should rather pipe it on stdin)
 *   -D  delete USER (an error when USER is not in FILE)
 *   -I  PBKDF2 iterations for the new hash (default 210000, at least 1000)
 * Without -b the password is read from the terminal without echo, twice
 * ("Password: ", "Reenter password: "); when stdin is not a terminal, its
 * first line is the password.  The file format is auth.h's; the file is
 * checked before it is changed (a broken file is left alone), other lines
 * (comments, other users) are kept byte for byte, a new user is appended,
 * and the new file replaces the old one atomically (temporary file in the
 * same directory, fsync, rename, fsync of the directory) with mode 0600.
 * A running server picks the change up on SIGHUP.
 *
 * Exit codes: 0 done, 1 failure (I/O, user not found, passwords differ,
 * broken file), 2 usage error.  Messages start with "cairn: passwd: ".
 */
#ifndef SRV_PASSWD_H
#define SRV_PASSWD_H

#include <stdio.h>

/* Runs `cairn passwd` (argv[1] is "passwd"); messages go to err, prompts to
 * the terminal on err.  Returns the exit code. */
int srv_passwd_main(int argc, char **argv, FILE *err);

#endif /* SRV_PASSWD_H */
