/// Arithmetic and conversions on a node's figures that never trap: a result out of range
/// stops at the nearest bound, and NaN counts as 0. A node's /proc is untrusted input, and
/// a figure that got past the parsers must still not bring cps down.
enum Saturating {
    /// `value` as an Int64: rounded toward zero, stopped at `Int64.min`/`Int64.max`.
    static func int64(_ value: Double) -> Int64 {
        if value.isNaN { return 0 }
        // 2^63 is exactly representable; Int64.max is not.
        if value >= 9_223_372_036_854_775_808.0 { return .max }
        if value <= -9_223_372_036_854_775_808.0 { return .min }
        return Int64(value)
    }

    /// `value` as a UInt64: rounded toward zero, negative values and NaN as 0.
    static func uint64(_ value: Double) -> UInt64 {
        if value.isNaN || value <= 0 { return 0 }
        if value >= 18_446_744_073_709_551_616.0 { return .max }
        return UInt64(value)
    }

    static func add(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b > 0 ? .max : .min) : sum
    }

    static func subtract(_ a: Int64, _ b: Int64) -> Int64 {
        let (difference, overflow) = a.subtractingReportingOverflow(b)
        return overflow ? (b < 0 ? .max : .min) : difference
    }

    static func add(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : sum
    }

    static func multiply(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? .max : product
    }
}
