namespace EasyIm.Contracts.Friends;

public sealed record UserList(IReadOnlyList<UserInfo> Items);
