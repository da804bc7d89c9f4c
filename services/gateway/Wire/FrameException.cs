namespace EasyIm.Gateway.Wire;

/// <summary>
/// Bytes that cannot be a frame: too large, a broken length prefix, or a body that does not decode.
/// The connection is answered NOTIFY 400 with <see cref="Exception.Message"/> and closed.
/// </summary>
public sealed class FrameException(string message, Exception? inner = null) : Exception(message, inner);
