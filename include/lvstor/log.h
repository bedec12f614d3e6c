/*
 * lib/log: levelled logging with per-component flags.
 *
 * Messages at or above the log level go to syslog-style output (stderr
 * by default); the print level decides what is also echoed to stderr when
 * a separate log sink is set. DEBUG messages additionally need their
 * component flag set (log_set_flag("bdev")). Flags are registered by each
 * component with LOG_REGISTER_COMPONENT(name) at file scope.
 *
 * All functions are thread-safe; logging is not for the I/O fast path.
 */
#ifndef LVSTOR_LOG_H
#define LVSTOR_LOG_H

#include <stdbool.h>
#include <stdarg.h>

enum log_level {
	LOG_LEVEL_DISABLED = -1,
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_NOTICE,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

struct log_flag {
	const char *name;
	bool enabled;
	struct log_flag *next;
};

void log_register_flag(struct log_flag *flag);
#define LOG_REGISTER_COMPONENT(FLAG) \
	struct log_flag LOG_FLAG_##FLAG = { .name = #FLAG, .enabled = false }; \
	__attribute__((constructor)) static void log_register_flag_##FLAG(void) \
	{ log_register_flag(&LOG_FLAG_##FLAG); }

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_set_print_level(enum log_level level);
enum log_level log_get_print_level(void);
/* "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG"; NULL for others. */
const char *log_level_name(enum log_level level);
/* Case-insensitive; accepts "WARN" too. Returns 0 or -EINVAL. */
int log_level_parse(const char *name, enum log_level *level);

/* Enables/disables a component flag, or every flag with "all". 0 or -EINVAL. */
int log_set_flag(const char *name);
int log_clear_flag(const char *name);
bool log_get_flag(const char *name);
/* Iterate registered flags (sorted by name). */
struct log_flag *log_get_first_flag(void);
struct log_flag *log_get_next_flag(struct log_flag *flag);

/* Sets where lines go: NULL = stderr. Used by tests to capture output. */
typedef void (*log_sink_fn)(enum log_level level, const char *line);
void log_set_sink(log_sink_fn sink);

void log_write(enum log_level level, const char *file, int line, const char *func,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void log_vwrite(enum log_level level, const char *file, int line, const char *func,
		const char *fmt, va_list ap);

#define LOG_ERR(...) log_write(LOG_LEVEL_ERROR, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define LOG_WARN(...) log_write(LOG_LEVEL_WARN, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define LOG_NOTICE(...) log_write(LOG_LEVEL_NOTICE, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define LOG_INFO(...) log_write(LOG_LEVEL_INFO, __FILE__, __LINE__, __func__, __VA_ARGS__)
/* Debug lines of component FLAG, only when its flag is enabled. */
#define LOG_DEBUG(FLAG, ...) do { \
	extern struct log_flag LOG_FLAG_##FLAG; \
	if (LOG_FLAG_##FLAG.enabled) \
		log_write(LOG_LEVEL_DEBUG, __FILE__, __LINE__, __func__, __VA_ARGS__); \
} while (0)

#endif
