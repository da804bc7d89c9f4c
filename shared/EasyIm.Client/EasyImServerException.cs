using EasyIm.Contracts.Wire;

namespace EasyIm.Client;

/// <summary>The server refused something with a NOTIFY <c>{"code":..,"msg":..}</c>.</summary>
public sealed class EasyImServerException(int code, string message, Msg frame) : Exception($"{code}: {message}")
{
    public int Code { get; } = code;
    public string ServerMessage { get; } = message;
    public Msg Frame { get; } = frame;
}

/// <summary>The connection ended before a frame that was waited for arrived.</summary>
public sealed class EasyImConnectionClosedException(string message, Exception? inner = null) : IOException(message, inner);
