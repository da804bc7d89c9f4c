namespace EasyIm.Contracts.Gateway;

/// <summary>
/// Messages for users' live connections, many per bus message. Each gateway writes those of
/// its own connections, in order, in each connection's format.
/// </summary>
public sealed record PushToUsers(IReadOnlyList<UserPush> Pushes);
