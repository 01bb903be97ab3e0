mod engine;
mod normalise;
mod slots;
mod commands;
mod audit;
mod reference;
mod chat;
mod policy;
