using EasyIm.Contracts.Friends;

namespace EasyIm.Contracts.Messaging;

/// <summary>
/// Asks messaging to apply a new friendship (or, <paramref name="Removed"/>, an ended one) to its projection
/// now, before the friends service answers, so a message sent right after is accepted (or refused). The
/// same event also arrives published; applying it twice changes nothing. <paramref name="Block"/>: a block that
/// started or ended, applied the same way before the blocker is answered.
/// Answered with <see cref="FriendshipApplied"/>.
/// </summary>
public sealed record ApplyFriendship(FriendshipCreated? Created, FriendshipRemoved? Removed = null, UserBlockChanged? Block = null);

public sealed record FriendshipApplied;
