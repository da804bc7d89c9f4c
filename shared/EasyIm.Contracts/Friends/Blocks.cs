namespace EasyIm.Contracts.Friends;

/// <summary>
/// <paramref name="UserId"/> blocks <paramref name="BlockedId"/>: their messages, friend and group invitations and typing
/// to the blocker are refused as "not allowed". Replies <see cref="BlockChanged"/> or <see cref="RequestRejected"/>
/// (400 oneself, 404 no such user, 429 over the block list's bound). Blocking again changes nothing.
/// </summary>
public sealed record BlockUser(long UserId, long BlockedId);

/// <summary>Lifts a block; replies <see cref="BlockChanged"/> or <see cref="RequestRejected"/> (404 not blocked).</summary>
public sealed record UnblockUser(long UserId, long BlockedId);

/// <summary>The users <paramref name="UserId"/> blocks, newest first; replies <see cref="UserList"/>.</summary>
public sealed record ListBlockedUsers(long UserId);

public sealed record BlockChanged(long UserId, long BlockedId, bool Blocked);

/// <summary>
/// Published (through the outbox) when a block starts or ends, for messaging's projection, which refuses the blocked
/// user's messages and typing to the blocker. A row takes only an event newer than the one it holds.
/// </summary>
public sealed record UserBlockChanged(long UserId, long BlockedId, bool Blocked, DateTimeOffset At);
