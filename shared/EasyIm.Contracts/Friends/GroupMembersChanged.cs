namespace EasyIm.Contracts.Friends;

/// <summary>A group's member count after an invite or a leave, and the members the invite added.</summary>
public sealed record GroupMembersChanged(long GroupId, int MemberCount, IReadOnlyList<GroupMemberAdded>? Added = null);
