namespace EasyIm.Contracts.Friends;

/// <summary>The new group, and the members it was made with (as announced by <see cref="GroupMemberAdded"/>).</summary>
public sealed record GroupCreated(long GroupId, IReadOnlyList<GroupMemberAdded>? Added = null);
