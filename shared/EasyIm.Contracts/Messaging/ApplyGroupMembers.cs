using EasyIm.Contracts.Friends;

namespace EasyIm.Contracts.Messaging;

/// <summary>
/// Asks messaging to apply members just added to groups (or <paramref name="Removed"/>: members who left)
/// to its membership projection now, before the friends service answers, so a message sent right after
/// reaches every new member and no longer the ones who left. The same events also arrive published;
/// applying one twice changes nothing. Answered with <see cref="GroupMembersApplied"/>.
/// </summary>
public sealed record ApplyGroupMembers(IReadOnlyList<GroupMemberAdded> Added, IReadOnlyList<GroupMemberRemoved>? Removed = null);

public sealed record GroupMembersApplied(int Count);
