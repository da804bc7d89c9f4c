using EasyIm.Contracts.Friends;

namespace EasyIm.Contracts.Messaging;

/// <summary>
/// Asks messaging to apply a new friendship to its projection now, before the friends service answers
/// the one who accepted and tells the inviter, so a message either sends right after is accepted. The
/// same <see cref="FriendshipCreated"/> also arrives published; applying it twice changes nothing.
/// Answered with <see cref="FriendshipApplied"/>.
/// </summary>
public sealed record ApplyFriendship(FriendshipCreated Created);

public sealed record FriendshipApplied;
