namespace EasyIm.Hosting;

/// <summary>
/// A setting is missing or wrong. The process stops at once and prints the message, which
/// names the setting and what to change; no stack trace is shown for it.
/// </summary>
public sealed class StartupException(string message) : Exception(message);
