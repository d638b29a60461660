/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* Limits and wire types of the path helpers (bpf/lib/path.h) and of the watched-prefix map. */
#ifndef KITE_PATH_WIRE_H
#define KITE_PATH_WIRE_H

/* Most bytes of one built path, NUL included (PATH_MAX). */
#define KITE_PATH_MAX 4096
/* Most bytes of one path component copied (NAME_MAX + NUL). */
#define KITE_NAME_MAX 256
/* Most directory levels walked from a dentry up to the task's root. */
#define KITE_PATH_DEPTH 64
/* Bytes of a path that the prefix map compares (LPM trie key data; the kernel's limit is 256). */
#define KITE_PREFIX_MAX 256

/* Key of the watched-prefix LPM trie: `prefixlen` in bits, then the path bytes. User space stores
 * every prefix twice: "<p>/" (what is below it) and "<p>\0" (the prefix itself), so "/etc" never
 * matches "/etcfoo". */
struct kite_prefix_key {
	__u32 prefixlen;
	char data[KITE_PREFIX_MAX];
};

enum kite_prefix_action {
	KITE_PREFIX_WATCH = 1,
	KITE_PREFIX_IGNORE = 2,
};

/* A trie value: the action (enum kite_prefix_action, or 0 for a folder that only has prefixes below
 * it), KITE_PREFIX_BELOW when some prefix lies strictly below the key's folder, and the key's length
 * in bytes from bit KITE_PREFIX_LEN_SHIFT. User space adds a KITE_PREFIX_BELOW key "<a>/" for every
 * folder <a> above a prefix, carrying the action that applies there, so one lookup tells whether a
 * folder's decision holds for every name in it. */
enum kite_prefix_value {
	KITE_PREFIX_ACTION_MASK = 0xff,
	KITE_PREFIX_BELOW = 0x100,
	KITE_PREFIX_LEN_SHIFT = 16,
};

/* How a built path came to be (bpf/lib/path.h). */
enum kite_path_flags {
	KITE_PATH_TRUNCATED = 1,   /* longer than KITE_PATH_MAX or deeper than KITE_PATH_DEPTH: cut */
	KITE_PATH_RELATIVE = 2,    /* named relative to the cwd or a directory fd, joined here */
	KITE_PATH_FROM_FD = 4,     /* the path of an open file descriptor */
	KITE_PATH_UNREADABLE = 8,  /* the name could not be read (bad pointer, closed fd) */
	KITE_PATH_RESOLVED = 16,   /* the path of the file the call opened: `..` and symlinks resolved */
	KITE_PATH_UNDECIDED = 32,  /* not watched as named, but may resolve into a watched prefix (`..`, or
	                            * a failed open denied by permissions): user space resolves and decides */
};

#endif
