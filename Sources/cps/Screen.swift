import CNcurses

/// The terminal of `cps --watch`, the one place that speaks curses. Curses keeps its state
/// in globals: one screen at a time, called from one task at a time (never concurrently).
struct Screen: Sendable {
    /// Takes over the terminal: full screen, no echo, keys as they are typed, colours.
    static func start() -> Screen {
        setlocale(LC_ALL, "")
        initscr()
        cbreak()
        noecho()
        _ = CNcurses_keypad(true)
        curs_set(0)
        if has_colors() {
            start_color()
            use_default_colors()
            init_pair(1, Int16(COLOR_RED), -1)
        }
        return Screen()
    }

    /// Gives the terminal back as it was.
    func end() {
        endwin()
    }

    /// Rows and columns now (they follow resizes).
    var size: (rows: Int, columns: Int) {
        (Int(CNcurses_rows()), Int(CNcurses_columns()))
    }

    /// Draws a frame: the column header reversed, DOWN nodes in red.
    func draw(_ lines: [ClusterTopLine]) {
        erase()
        for (row, line) in lines.enumerated() {
            let attribute: attr_t
            switch line.style {
            case .plain: attribute = 0
            case .columns: attribute = CNcurses_reverse()
            case .down: attribute = CNcurses_colorPair(1) | CNcurses_bold()
            }
            move(Int32(row), 0)
            _ = CNcurses_attrOn(attribute)
            addstr(line.text)
            _ = CNcurses_attrOff(attribute)
        }
        refresh()
    }

    /// The next key within `milliseconds`: nil when none came, `resize` after a resize.
    func key(within milliseconds: Int) -> Key? {
        timeout(Int32(max(0, min(milliseconds, Int(Int32.max)))))
        let code = getch()
        if code == ERR { return nil }
        if code == KEY_RESIZE { return .resize }
        return .press(UInt32(truncatingIfNeeded: code))
    }

    enum Key: Sendable {
        case press(UInt32)
        case resize
    }
}
