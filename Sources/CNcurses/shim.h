#include <locale.h>
#include <ncursesw/curses.h>

/* Macros Swift cannot call. */
static inline int CNcurses_rows(void) { return getmaxy(stdscr); }
static inline int CNcurses_columns(void) { return getmaxx(stdscr); }
static inline attr_t CNcurses_colorPair(short pair) { return COLOR_PAIR(pair); }
static inline attr_t CNcurses_reverse(void) { return A_REVERSE; }
static inline attr_t CNcurses_bold(void) { return A_BOLD; }
static inline int CNcurses_attrOn(attr_t a) { return attron((int)a); }
static inline int CNcurses_attrOff(attr_t a) { return attroff((int)a); }
static inline int CNcurses_keypad(bool on) { return keypad(stdscr, on); }
