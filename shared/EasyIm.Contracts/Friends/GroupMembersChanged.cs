namespace EasyIm.Contracts.Friends;

public sealed record GroupMembersChanged(long GroupId, int MemberCount);
