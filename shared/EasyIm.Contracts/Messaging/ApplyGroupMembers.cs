using EasyIm.Contracts.Friends;

namespace EasyIm.Contracts.Messaging;

/// <summary>
/// Asks messaging to apply members just added to groups to its membership projection now, before the
/// friends service answers the one who added them, so a message sent right after reaches every new member. The same
/// <see cref="GroupMemberAdded"/> events also arrive published; applying one twice changes nothing.
/// Answered with <see cref="GroupMembersApplied"/>.
/// </summary>
public sealed record ApplyGroupMembers(IReadOnlyList<GroupMemberAdded> Added);

public sealed record GroupMembersApplied(int Count);
