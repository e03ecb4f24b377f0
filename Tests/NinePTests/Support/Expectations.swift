import NineP

/// The NinePError a call throws, or nil when it returns.
func ninePError<T>(_ body: () throws(NinePError) -> T) -> NinePError? {
    do throws(NinePError) {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

/// Decodes a frame built from a type and body, returning the error code or nil on success.
func decodeErrorCode(type: UInt8, body: [UInt8], dialect: Dialect) -> NinePError.Code? {
    ninePError { () throws(NinePError) in try Message.decode(Frame(type: type, tag: 0, body: body), dialect: dialect) }?.code
}
