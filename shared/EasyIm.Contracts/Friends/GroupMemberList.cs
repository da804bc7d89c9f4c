namespace EasyIm.Contracts.Friends;

public sealed record GroupMemberList(IReadOnlyList<GroupMemberInfo> Items);
